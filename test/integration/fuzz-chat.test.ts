/**
 * Fuzzing the chat protocol from outside: seeded random and structured bad frames (not JSON, not an
 * object, unknown types, fields of the wrong type, huge numbers, deep nesting, Unicode edge cases,
 * lone surrogates, prototype keys, missing fields, binary frames) on one connection. Every bad frame
 * gets exactly one `bad_request` and changes nothing; the connection chats normally in between and
 * after; the server logs no error and leaks no internals. FUZZ_COUNT and FUZZ_SEED set the size and
 * the seed (see docs/operations.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Logger } from 'pino';
import { clientFrameSchema } from '../../src/protocol/frames.js';
import { loadConfig } from '../../src/server/config.js';
import { startParley, type ParleyServer } from '../../src/server/app.js';
import { ChatClient, signInGuest, type Frame } from '../helpers/chat-client.js';
import { fuzzSettings, leaksInternals, nested, ODD_CHARS, ODD_NUMBERS, Random } from '../helpers/fuzz.js';
import { captureLogs, type LogRecord } from '../helpers/log-capture.js';
import { tempDataDir } from '../helpers/server.js';

const { count, seed } = fuzzSettings(3000);
/** Bad frames between two normal messages. */
const BATCH = 50;

interface Candidate {
  data: string | Buffer;
  binary: boolean;
}

/** Valid frames of every type, the material that structured cases break. */
const VALID: Record<string, unknown>[] = [
  { type: 'join', room: 'lobby', after: 0 },
  { type: 'leave', room: 'lobby' },
  { type: 'chat', room: 'lobby', data: 'hi', cid: 'c1' },
  { type: 'dm', to: 1, data: 'hi', cid: 'c2' },
  { type: 'history', room: 'lobby', before: 10, limit: 5 },
  { type: 'typing', room: 'lobby' },
];

/** A JSON value that fits no field of the protocol, or fits some by chance (the schema decides). */
function oddValue(r: Random): string {
  switch (r.int(9)) {
    case 0:
      return r.pick(ODD_NUMBERS);
    case 1:
      return JSON.stringify(r.oddString());
    case 2:
      return r.pick(['null', 'true', 'false', '[]', '{}', '""', '" "', '[1]', '{"__proto__":null}']);
    case 3:
      return nested(1 + r.int(3000), r.pick(['array', 'object'] as const));
    case 4:
      return JSON.stringify('x'.repeat(r.pick([64, 65, 100, 5000])));
    case 5:
      // Lone surrogates as the \u escapes a client can send inside valid UTF-8.
      return r.pick(['"\\ud800"', '"a\\udfffb"', '"\\udc00\\ud800"', '"\\ud83d"']);
    case 6:
      return JSON.stringify(r.pick(['lobby ', ' lobby', 'LOBBY', 'dm:0:1', 'dm:1', 'dm:2:1:3', '.', '..', '-', '_', 'a/b', 'a%2Fb', '💩', '\u0000']));
    case 7:
      return String(r.int(2) === 0 ? -r.int(1000) : r.int(1000) + 0.5);
    default:
      return r.pick(['{"type":"chat"}', '{"a":{"b":{"c":[]}}}', '[{"type":"chat","room":"lobby","data":"x"}]']);
  }
}

/** One candidate frame; many are bad by construction, the rest are kept only if the protocol refuses them. */
function candidate(r: Random): Candidate {
  const base = r.pick(VALID);
  const json = JSON.stringify(base);
  switch (r.int(8)) {
    case 0: {
      // Byte-level damage to a valid frame: cut, insert, replace.
      let s = json;
      for (let i = 1 + r.int(3); i > 0; i--) {
        const at = r.int(s.length + 1);
        const op = r.int(3);
        if (op === 0) s = s.slice(0, at);
        else if (op === 1) s = s.slice(0, at) + r.pick(ODD_CHARS) + s.slice(at);
        else s = s.slice(0, at) + r.pick(ODD_CHARS) + s.slice(at + 1);
      }
      return { data: s, binary: false };
    }
    case 1:
      // Not an object at all.
      return { data: oddValue(r), binary: false };
    case 2: {
      // A type that is not one, or none.
      const rest = JSON.stringify({ ...base, type: undefined }).slice(1, -1);
      const type = r.chance(0.2) ? '' : `"type":${r.chance(0.5) ? oddValue(r) : JSON.stringify(r.pick([...ODD_CHARS, 'CHAT', 'chat ', 'Join', 'ack', 'welcome', 'error']))}`;
      return { data: `{${[type, rest].filter(Boolean).join(',')}}`, binary: false };
    }
    case 3: {
      // One field of a valid frame with a wrong value.
      const keys = [...Object.keys(base).filter((k) => k !== 'type'), 'cid', 'after', 'limit'];
      const key = r.pick(keys);
      const fields = Object.entries({ ...base, [key]: undefined })
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
      fields.splice(r.int(fields.length + 1), 0, `${JSON.stringify(key)}:${oddValue(r)}`);
      return { data: `{${fields.join(',')}}`, binary: false };
    }
    case 4: {
      // A required field missing.
      const keys = Object.keys(base).filter((k) => k !== 'type');
      const missing = r.pick(keys.length > 0 ? keys : ['type']);
      return { data: JSON.stringify({ ...base, [missing]: undefined }), binary: false };
    }
    case 5: {
      // Prototype keys, own properties once parsed: they must not stand in for the real fields.
      const proto = r.pick(['__proto__', 'constructor', 'prototype']);
      const inner = JSON.stringify(base);
      const fields = Object.keys(base).filter(() => r.chance(0.5));
      const own = fields.map((k) => `${JSON.stringify(k)}:${JSON.stringify(base[k])}`);
      return { data: `{${[...own, `"${proto}":${inner}`].join(',')}}`, binary: false };
    }
    case 6:
      // Binary frames: random bytes, or a valid frame sent as binary.
      return { data: r.chance(0.5) ? r.bytes(r.int(200)) : Buffer.from(json), binary: true };
    default:
      // Deep nesting and size in one field, near but under MAX_PAYLOAD.
      return { data: JSON.stringify({ ...base, data: undefined }).replace(/}$/, `,"data":${nested(1 + r.int(20_000), 'array')}}`), binary: false };
  }
}

/** Whether the protocol refuses the frame (binary frames always). */
function refused(c: Candidate): boolean {
  if (c.binary) return true;
  let json: unknown;
  try {
    // As the server reads it: a JS string goes out as UTF-8, a lone surrogate in it as U+FFFD.
    json = JSON.parse(Buffer.from(c.data).toString('utf8'));
  } catch {
    return true;
  }
  return !clientFrameSchema.safeParse(json).success;
}

describe(`fuzzing the chat protocol (${count} bad frames, seed ${seed})`, () => {
  let server: ParleyServer;
  let logs: { logger: Logger; records(): LogRecord[] };
  let wsUrl: string;
  let httpUrl: string;
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

  before(async () => {
    logs = captureLogs('warn');
    const config = loadConfig({}, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), RATE_LIMIT: '0', LOG_LEVEL: 'warn' });
    server = await startParley(config, { logger: logs.logger });
    wsUrl = `ws://127.0.0.1:${server.port}`;
    httpUrl = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('answers each bad frame with exactly one bad_request, stores nothing, and chats normally between and after', { timeout: 600_000 }, async () => {
    const r = new Random(seed);
    const fuzzer = await ChatClient.connect(wsUrl, (await signInGuest(httpUrl, 'fuzzer')).token);
    const observer = await ChatClient.connect(wsUrl, (await signInGuest(httpUrl, 'observer')).token);
    observer.send({ type: 'join', room: 'lobby' });
    await observer.next('list');

    let sent = 0;
    let batch = 0;
    let seen = fuzzer.frames.length;
    const sentinels: string[] = [];
    while (sent < count) {
      const frames: Candidate[] = [];
      while (frames.length < Math.min(BATCH, count - sent)) {
        const c = candidate(r);
        if (refused(c)) frames.push(c);
      }
      for (const c of frames) fuzzer.ws.send(c.data, { binary: c.binary });
      sent += frames.length;
      // A normal message after the batch: its ack comes after every answer to the batch.
      const text = `normal ${++batch}`;
      sentinels.push(text);
      fuzzer.send({ type: 'chat', room: 'lobby', data: text, cid: `n${batch}` });
      const ack = await fuzzer.next('ack', (f) => f.cid === `n${batch}`);
      const answers = fuzzer.frames.slice(seen, fuzzer.frames.indexOf(ack));
      seen = fuzzer.frames.indexOf(ack) + 1;
      const replay = () => `seed ${seed}, batch ${batch}: ${JSON.stringify(frames.map((f) => (f.binary ? `<binary ${f.data.length}>` : String(f.data).slice(0, 300))))}`;
      assert.equal(answers.length, frames.length, `one answer per bad frame: ${JSON.stringify(answers).slice(0, 2000)}; ${replay()}`);
      answers.forEach((a: Frame, i) => {
        assert.equal(a.type, 'error', `frame ${i}: ${JSON.stringify(a)}; ${replay()}`);
        assert.equal(a.code, 'bad_request', `frame ${i}: ${JSON.stringify(a)}; ${replay()}`);
        assert.ok(!leaksInternals(String(a.message)), `no internals in ${JSON.stringify(a)}`);
      });
    }

    // The observer got the normal messages, each once and in order, and nothing the fuzz sent.
    const last = sentinels.at(-1);
    await observer.next('chat', (f) => f.data === last, 30_000);
    assert.deepEqual(observer.all('chat').map((f) => f.data), sentinels);
    const ids = observer.all('chat').map((f) => f.id as number);
    assert.deepEqual(ids, ids.map((_, i) => ids[0]! + i), 'ids without gaps: nothing else was stored');
    assert.equal(fuzzer.closeCode, undefined, 'the fuzzed connection is still open');
    await fuzzer.close();
    await observer.close();

    assert.deepEqual(logs.records().filter((l) => l.level >= 50), [], 'nothing logged at error level');
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys, 'Object.prototype untouched');
    assert.equal((await fetch(`${httpUrl}/healthz`)).status, 200);
  });

  it('answers odd frames that the protocol accepts without an internal error, and goes on', { timeout: 600_000 }, async () => {
    const r = new Random(seed + 2);
    const { token, user } = await signInGuest(httpUrl, 'prober');
    const prober = await ChatClient.connect(wsUrl, token);
    const rooms = ['lobby', 'nowhere', `dm:${user.id}:${user.id}`, `dm:${user.id}:999999`, 'dm:1:2', 'dm:9007199254740991:9007199254740992', 'a'.repeat(64), '小明的房间', 'x.y_z-1', '__proto__', 'constructor'];
    const ids = [0, 1, 2, 1000, 2 ** 31, Number.MAX_SAFE_INTEGER];
    const frame = (): Record<string, unknown> => {
      const room = r.pick(rooms);
      switch (r.int(6)) {
        case 0:
          return { type: 'join', room, ...(r.chance(0.7) ? { after: r.pick(ids) } : {}) };
        case 1:
          return { type: 'leave', room };
        case 2:
          return { type: 'chat', room, data: r.oddString().replace(/[\ud800-\udfff]/g, '') || 'x', ...(r.chance(0.5) ? { cid: `p${r.int(20)}` } : {}) };
        case 3:
          return { type: 'dm', to: r.pick([user.id, 1, 999999, Number.MAX_SAFE_INTEGER]), data: 'hi', cid: `d${r.int(20)}` };
        case 4:
          return { type: 'history', room, ...(r.chance(0.5) ? { before: r.pick(ids) } : {}), ...(r.chance(0.5) ? { limit: 1 + r.int(100) } : {}) };
        default:
          return { type: 'typing', room };
      }
    };
    const total = Math.max(200, Math.floor(count / 5));
    for (let sent = 0, batch = 0; sent < total; sent += BATCH) {
      const frames = Array.from({ length: BATCH }, frame);
      for (const f of frames) assert.ok(clientFrameSchema.safeParse(f).success, JSON.stringify(f));
      for (const f of frames) prober.send(f);
      prober.send({ type: 'chat', room: 'lobby', data: 'normal', cid: `probe-${++batch}` });
      await prober.next('ack', (f) => f.cid === `probe-${batch}`, 30_000);
    }
    const internal = prober.frames.filter((f) => f.type === 'error' && (f.code === 'internal' || leaksInternals(String(f.message))));
    assert.deepEqual(internal, []);
    assert.equal(prober.closeCode, undefined, 'the connection is still open');
    await prober.close();
    assert.deepEqual(logs.records().filter((l) => l.level >= 50), [], 'nothing logged at error level');
  });

  it('delivers text full of Unicode edge cases exactly as it was sent', async () => {
    const r = new Random(seed + 1);
    const sender = await ChatClient.connect(wsUrl, (await signInGuest(httpUrl, 'unicode')).token);
    const reader = await ChatClient.connect(wsUrl, (await signInGuest(httpUrl, 'reader')).token);
    reader.send({ type: 'join', room: 'lobby' });
    await reader.next('list');
    const texts: string[] = [];
    while (texts.length < 100) {
      const text = Array.from({ length: 1 + r.int(8) }, () => r.pick(ODD_CHARS)).join('');
      // Lone surrogates are refused (checked above); every other string is text.
      if (text.isWellFormed()) texts.push(text);
    }
    texts.forEach((data, i) => sender.send({ type: 'chat', room: 'lobby', data, cid: `u${i}` }));
    await sender.next('ack', (f) => f.cid === `u${texts.length - 1}`);
    await reader.next('chat', (f) => f.cid === `u${texts.length - 1}`);
    assert.deepEqual(reader.all('chat').filter((f) => String(f.cid).startsWith('u')).map((f) => f.data), texts);
    assert.equal(sender.all('error').length, 0, JSON.stringify(sender.all('error').slice(0, 3)));
    await sender.close();
    await reader.close();
  });

  it('closes a text frame that is not UTF-8 with 1007, and the next connection chats normally', async () => {
    const { token } = await signInGuest(httpUrl, 'bytes');
    const c = await ChatClient.connect(wsUrl, token);
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    assert.equal(await c.closed, 1007);
    const again = await ChatClient.connect(wsUrl, token);
    again.send({ type: 'chat', room: 'lobby', data: 'still here', cid: 'after-1007' });
    assert.equal((await again.next('ack')).cid, 'after-1007');
    await again.close();
  });
});

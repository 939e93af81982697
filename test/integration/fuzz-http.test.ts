/**
 * Fuzzing the HTTP API from outside, over raw TCP so that anything a client can put on the wire is
 * tried: odd methods, targets and headers, bad JSON, wrong content types and encodings, non-UTF-8
 * bytes, deep nesting, prototype keys. Every answer is a status below 500 with no internals in it
 * (an API error is `{error: {code, message}}`), the server logs no error, and a normal client is
 * served afterwards. FUZZ_COUNT and FUZZ_SEED set the size and the seed (see docs/operations.md).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { loadConfig } from '../../src/server/config.js';
import { startParley, type ParleyServer } from '../../src/server/app.js';
import { signInGuest } from '../helpers/chat-client.js';
import { fuzzSettings, leaksInternals, nested, ODD_NUMBERS, Random } from '../helpers/fuzz.js';
import { captureLogs, type LogRecord } from '../helpers/log-capture.js';
import { tempDataDir } from '../helpers/server.js';

const { count, seed } = fuzzSettings(3000);
/** Requests in flight at once. */
const PARALLEL = 6;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'PURGE', 'BREW', 'get', 'CONNECT'];
const PATHS = [
  '/', '/index.html', '/assets/app.js', '/rooms/lobby', '/api', '/api/', '/api/register', '/api/login', '/api/guest', '/api/logout',
  '/api/me', '/api/rooms', '/api/rooms/lobby', '/api/rooms/lobby/members', '/api/rooms/lobby/messages', '/api/rooms/dm:1:2/messages',
  '/healthz', '/readyz', '/metrics', '/ws/chat', '/ws/echo',
];
const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset="utf-8"',
  'application/json;charset=UTF-16', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x', '*/*', 'application/', ';;;', 'application/json; charset',
];
const ENCODINGS = ['gzip', 'deflate', 'br', 'identity', 'compress', 'gzip, gzip', 'x-gzip', 'GZIP'];

interface Request {
  bytes: Buffer;
  /** For the failure message. */
  shown: string;
}

/** An odd piece of a path or query, as a client could put it on the wire (no spaces or line breaks). */
function oddSegment(r: Random): string {
  const s = r.oddString();
  // Raw, without what would end the request line or the header (whitespace and controls).
  return r.chance(0.6) ? encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')) : s.replace(/[\s\p{Cc}]/gu, '');
}

function target(r: Random): string {
  let path = r.pick(PATHS);
  switch (r.int(6)) {
    case 0:
      path += `/${oddSegment(r)}`;
      break;
    case 1:
      path = path.replace(/lobby/, oddSegment(r) || 'x');
      break;
    case 2:
      path += `?${['before', 'after', 'limit', 'token', '__proto__[x]', 'constructor', 'q'].map((k) => `${k}=${r.chance(0.5) ? r.pick(ODD_NUMBERS) : oddSegment(r)}`).slice(0, 1 + r.int(7)).join('&')}`;
      break;
    case 3:
      path = r.pick(['/../../etc/passwd', '/%2e%2e/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', '/.%2e/src', '/%00', '//', '/\\..\\', '/api/%', '/api/rooms/%E0%A4%A']) + path;
      break;
    case 4:
      path += `/${'a'.repeat(r.pick([256, 2048, 8000]))}`;
      break;
    default:
      break;
  }
  return r.chance(0.05) ? `http://127.0.0.1${path}` : path;
}

function body(r: Random): Buffer {
  const fields = ['name', 'password', 'data', 'cid', 'private', 'user', 'room'];
  const value = () => (r.chance(0.5) ? r.pick(ODD_NUMBERS) : r.chance(0.5) ? JSON.stringify(r.oddString()) : r.pick(['null', 'true', '[]', '{}', '"\\ud800"', '"x"']));
  switch (r.int(9)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.from(`{${fields.filter(() => r.chance(0.5)).map((f) => `"${f}":${value()}`).join(',')}}`);
    case 2:
      return Buffer.from(r.pick(['{', '{"name":', '{"a":1,}', '[1,2', '{"a":NaN}', "{'a':1}", '{"a":1}{"b":2}', '\ufeff{"name":"bom"}', 'null', '"str"', '42']));
    case 3:
      return Buffer.from(nested(1 + r.int(30_000), r.pick(['array', 'object'] as const)));
    case 4:
      return Buffer.from(r.pick(['{"__proto__":{"admin":true},"name":"p1"}', '{"constructor":{"prototype":{"polluted":1}},"name":"p2"}', '{"name":{"__proto__":null}}', '{"data":"x","__proto__":{"data":"y"}}']));
    case 5:
      return r.bytes(r.int(300));
    case 6:
      return Buffer.concat([Buffer.from('{"data":"caf'), r.bytes(1 + r.int(3)), Buffer.from('"}')]);
    case 7:
      return Buffer.from(JSON.stringify({ data: 'x'.repeat(r.pick([4001, 70_000])) }));
    default:
      return Buffer.from(JSON.stringify({ name: r.oddString() || 'n', password: r.oddString(), data: r.oddString() || 'd' }));
  }
}

function request(r: Random, token: string): Request {
  const method = r.pick(METHODS);
  const lines = [`${method} ${method === 'CONNECT' ? '127.0.0.1:1' : target(r)} HTTP/1.1`];
  if (r.chance(0.95)) lines.push(r.chance(0.9) ? 'Host: 127.0.0.1' : `Host: ${oddSegment(r)}`);
  let payload = r.chance(0.6) ? body(r) : Buffer.alloc(0);
  if (r.chance(0.7)) lines.push(`Content-Type: ${r.pick(CONTENT_TYPES)}`);
  if (r.chance(0.1)) {
    const encoding = r.pick(ENCODINGS);
    lines.push(`Content-Encoding: ${encoding}`);
    if (encoding === 'gzip' && r.chance(0.5)) payload = gzipSync(payload);
  }
  const auth = r.int(6);
  if (auth === 0) lines.push(`Authorization: Bearer ${token}`);
  else if (auth === 1) lines.push(`Authorization: ${r.pick(['Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', `Bearer ${token}x`, `Bearer ${token.slice(0, -2)}`, `bearer  ${token}`])}`);
  else if (auth === 2) lines.push(`Cookie: parley_session=${r.chance(0.5) ? token : oddSegment(r)}; ${oddSegment(r)}=${oddSegment(r)}`);
  if (r.chance(0.1)) lines.push(`X-Forwarded-For: ${oddSegment(r) || '1.2.3.4'}, ::1`);
  if (r.chance(0.1)) lines.push(`Origin: ${r.pick(['null', 'http://evil.example', oddSegment(r)])}`);
  if (r.chance(0.05)) lines.push(`Range: bytes=${r.pick(['0-', '-1', '999999-', 'a-b', '0-1,2-3'])}`);
  if (r.chance(0.05)) lines.push('Expect: 100-continue');
  if (r.chance(0.05)) lines.push(`X-Big: ${'b'.repeat(8000)}`);
  if (r.chance(0.1) && payload.length > 0) {
    // Chunked: well formed, or with a chunk size that is not one.
    lines.push('Transfer-Encoding: chunked');
    payload = r.chance(0.8)
      ? Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n0\r\n\r\n')])
      : Buffer.from(`zz\r\n${payload.toString('latin1')}\r\n0\r\n\r\n`, 'latin1');
  } else {
    lines.push(`Content-Length: ${r.chance(0.05) ? Math.max(0, payload.length - 1 - r.int(5)) : payload.length}`);
  }
  lines.push('Connection: close');
  const head = `${lines.join('\r\n')}\r\n\r\n`;
  return { bytes: Buffer.concat([Buffer.from(head, 'utf8'), payload]), shown: `${head}${payload.subarray(0, 200).toString('latin1')}` };
}

/** Sends the bytes and collects everything the server writes until it closes. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no complete answer within 10 s'));
    }, 10_000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    // The server may close while the rest of a refused request is still being written.
    socket.on('error', () => socket.destroy());
  });
}

/** The first response of a raw answer: status, headers (lower-case names) and body, chunked or not. */
function firstResponse(answer: Buffer): { status: number; headers: Map<string, string>; body: Buffer } | undefined {
  const headEnd = answer.indexOf('\r\n\r\n');
  const head = answer.subarray(0, headEnd < 0 ? answer.length : headEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(head[0] ?? '');
  if (!status) return undefined;
  const headers = new Map(head.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  let rest = answer.subarray(headEnd + 4);
  let body = rest.subarray(0, Number(headers.get('content-length') ?? rest.length));
  if (headers.get('transfer-encoding') === 'chunked') {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      const size = parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (!(size > 0)) break;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(chunks);
  }
  return { status: Number(status[1]), headers, body };
}

function check(answer: Buffer, sent: Request): void {
  const text = answer.toString('latin1');
  const replay = `seed ${seed}; request:\n${sent.shown}\nanswer:\n${text.slice(0, 600)}`;
  const response = firstResponse(answer);
  assert.ok(response, `an HTTP answer; ${replay}`);
  // Bytes after a request that declared a shorter body are read as a next request and answered too.
  assert.ok(!/HTTP\/1\.1 5\d\d /.test(text), `no 5xx; ${replay}`);
  assert.ok(!leaksInternals(text), `no internals; ${replay}`);
  const requestLine = sent.shown.slice(0, sent.shown.indexOf('\r\n'));
  const isApi = /^[A-Z]+ \/api(\/|\?| )/.test(requestLine) && !requestLine.startsWith('HEAD ');
  if (response.status >= 400 && (isApi || (response.headers.get('content-type')?.startsWith('application/json') && response.body.length > 0))) {
    let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
    try {
      parsed = JSON.parse(response.body.toString('utf8')) as typeof parsed;
    } catch {
      assert.fail(`an error is JSON; ${replay}`);
    }
    assert.equal(typeof parsed?.error?.code, 'string', replay);
    assert.equal(typeof parsed?.error?.message, 'string', replay);
  }
}

describe(`fuzzing the HTTP API (${count} requests, seed ${seed})`, () => {
  let server: ParleyServer;
  let logs: { logger: Logger; records(): LogRecord[] };
  let base: string;
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

  before(async () => {
    logs = captureLogs('warn');
    const config = loadConfig({}, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), SIGNIN_RATE: '0', LOG_LEVEL: 'warn' });
    server = await startParley(config, { logger: logs.logger });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(() => server.close());

  it('answers every request below 500, leaks nothing, logs no error, and serves a normal client after', { timeout: 600_000 }, async () => {
    const r = new Random(seed);
    const { token } = await signInGuest(base, 'fuzz');
    const requests = Array.from({ length: count }, () => request(r, token));
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const sent = requests[next++]!;
        check(await exchange(server.port, sent.bytes), sent);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));

    assert.deepEqual(logs.records().filter((l) => l.level >= 50), [], 'nothing logged at error level');
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys, 'Object.prototype untouched');
    const normal = await signInGuest(base, 'after-fuzz');
    const posted = await fetch(`${base}/api/rooms/lobby/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${normal.token}` },
      body: JSON.stringify({ data: 'after the fuzz', cid: 'af' }),
    });
    assert.equal(posted.status, 201);
    const history = (await (await fetch(`${base}/api/rooms/lobby/messages?limit=1`, { headers: { authorization: `Bearer ${normal.token}` } })).json()) as {
      data: { data: string }[];
    };
    assert.equal(history.data[0]!.data, 'after the fuzz');
  });
});

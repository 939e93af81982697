/** HTTP at the edges of the protocol: other Upgrade headers, malformed requests, the Origin's scheme. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/server/config.js';
import { startParley } from '../../src/server/app.js';
import { ChatClient, signInGuest, upgradeStatus } from '../helpers/chat-client.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startTestServer, tempDataDir, type TestServer } from '../helpers/server.js';

/** Sends raw bytes and returns the whole response the server writes before it closes. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Sends raw bytes and returns the status of the response, without waiting for the connection to close. */
function statusOf(port: number, request: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if (!text.includes('\r\n')) return;
      resolve(Number(text.split(' ')[1]));
      socket.destroy();
    });
    // The server may close while the rest of the request is still being written.
    socket.on('error', (err) => (text.includes('\r\n') ? undefined : reject(err)));
  });
}

interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any endpoint
}

/** POSTs these exact bytes (the text parts as UTF-8) as the body, with a JSON content type unless told otherwise. */
async function postBytes(url: string, parts: (string | number[])[], options: { token?: string; headers?: Record<string, string>; gzip?: boolean } = {}): Promise<Answer> {
  let body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.gzip) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, body: await res.json() };
}

/** POSTs a JSON body over a raw socket in two writes with a pause between, so the server reads it in two pieces; resolves status and JSON. */
function postInTwoPieces(port: number, path: string, token: string, first: Buffer, second: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const head =
      `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${first.length + second.length}\r\n\r\n`;
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(Buffer.concat([Buffer.from(head), first]));
      // write, not end: node's server drops a request whose client half-closes before it is answered.
      setTimeout(() => socket.write(second), 50);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const statusLine = text.slice(0, text.indexOf('\r\n'));
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      try {
        resolve({ status: Number(statusLine.split(' ')[1]), body: JSON.parse(body) });
      } catch {
        reject(new Error(`not an HTTP response with a JSON body: ${JSON.stringify(text)}`));
      }
    });
    socket.on('error', reject);
  });
}

async function getJson(url: string, token: string): Promise<Answer> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

function assertError(answer: Answer, status: number, code: string, message: RegExp, what = ''): void {
  assert.equal(answer.status, status, `${what} ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body?.error?.code, code, `${what} ${JSON.stringify(answer.body)}`);
  assert.match(answer.body.error.message, message, what);
}

/** Byte sequences that are not UTF-8: a stray continuation byte, bytes UTF-8 never uses, an overlong "/", a surrogate, a cut-off character, Latin-1 "é". */
const NOT_UTF8: number[][] = [[0x80], [0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe4, 0xbd], [0xe9]];

describe('HTTP edges', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '2' });
  });
  after(() => server.close());

  it('answers a request with Upgrade: h2c as plain HTTP, body included', async () => {
    const health = await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
    assert.match(health, /^HTTP\/1\.1 200 /);
    assert.match(health, /"status":"ok"/);
    const body = JSON.stringify({ name: 'h2' });
    const guest = await raw(
      server.port,
      `POST /api/guest HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.match(guest, /^HTTP\/1\.1 200 /);
    assert.match(guest, /"name":"h2"/);
  });

  it('answers malformed HTTP with a status and a JSON error, not a hang-up', async () => {
    const big = await raw(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    const garbage = await raw(server.port, 'GARBAGE\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /"error":\{"code":"bad_request"/);
  });

  it('refuses a WebSocket handshake that is not a GET with 405 and a JSON error', async () => {
    const res = await raw(
      server.port,
      'POST /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.match(res, /^HTTP\/1\.1 405 /);
    assert.match(res, /application\/json/);
  });

  it('treats an Origin with another scheme as another origin', async () => {
    const alice = await signInGuest(server.url, 'alice');
    const headers = { authorization: `Bearer ${alice.token}` };
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: server.url.replace('http:', 'https:') }), 403);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: server.url }), 101);
  });

  it('believes X-Forwarded-Host for the Origin check only from a trusted proxy', async () => {
    const forged = { origin: 'http://evil.example', headers: { 'x-forwarded-host': 'evil.example' } };
    const alice = await signInGuest(server.url, 'alice-xfh');
    const withToken = { ...forged, headers: { ...forged.headers, authorization: `Bearer ${alice.token}` } };
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, withToken), 403, 'TRUST_PROXY unset');
    const proxied = await startTestServer({ TRUST_PROXY: '127.0.0.1' });
    try {
      const bob = await signInGuest(proxied.url, 'bob-xfh');
      const headers = { ...forged.headers, authorization: `Bearer ${bob.token}` };
      assert.equal(await upgradeStatus(`${proxied.wsUrl}/ws/chat`, { ...forged, headers }), 101, 'the peer is a trusted proxy');
    } finally {
      await proxied.close();
    }
  });

  it('names the cid and room of a frame refused for its rate or its shape', async () => {
    const bob = await signInGuest(server.url, 'bob');
    const c = await ChatClient.connect(server.wsUrl, bob.token);
    c.send({ type: 'chat', room: 'lobby', data: 5, cid: 'shape' });
    assert.deepEqual(await c.next('error'), { type: 'error', code: 'bad_request', message: 'data must be a string', cid: 'shape', room: 'lobby' });
    for (let i = 0; i < 6; i++) c.send({ type: 'chat', room: 'lobby', data: 'x', cid: `r${i}` });
    const limited = await c.next('error', (f) => f.code === 'rate_limited');
    assert.equal(limited.room, 'lobby');
    assert.match(String(limited.cid), /^r\d$/);
    await c.close();
  });
});

/** Status and JSON body of a raw HTTP response. */
function parseResponse(text: string): Answer {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status: Number(text.slice(0, text.indexOf('\r\n')).split(' ')[1]), body: body ? JSON.parse(body) : undefined };
}

describe('request lines that cannot be routed', () => {
  const websocket = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
  const h2c = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';

  it('get a JSON 400 bad_request, with or without Upgrade: targets no URL parser agrees on, CONNECT, HTTP/1.1 without Host; nothing at error level in the log', async () => {
    const { logger, records } = captureLogs('debug');
    const server = await startParley(loadConfig({}, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), LOG_LEVEL: 'debug' }), { logger });
    try {
      for (const target of ['//[', 'http://[::1', '//%5B', '/\\evil', '*', 'ftp://x/ws/chat', 'http://[::1]:99999/ws/chat']) {
        for (const [what, upgrade] of [['plain', ''], ['websocket', websocket], ['h2c', h2c]]) {
          const answer = parseResponse(await raw(server.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`));
          assertError(answer, 400, 'bad_request', /request target/, `${what} GET ${target}`);
        }
      }
      for (const [what, upgrade] of [['plain', ''], ['websocket', websocket]]) {
        const answer = parseResponse(await raw(server.port, `GET /ws/echo HTTP/1.1\r\n${upgrade}\r\n`));
        assertError(answer, 400, 'bad_request', /must have a Host header/, `${what} without Host`);
      }
      const connect = parseResponse(await raw(server.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'));
      assertError(connect, 400, 'bad_request', /CONNECT/);
      // The absolute form that HTTP/1.1 servers must accept still works, for the API and the upgrade.
      assert.match(await raw(server.port, `GET http://127.0.0.1:${server.port}/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
      assert.equal(await statusOf(server.port, `GET http://127.0.0.1:${server.port}/ws/echo HTTP/1.1\r\nHost: x\r\n${websocket}\r\n`), 101);
    } finally {
      await server.close();
    }
    const errors = records().filter((r) => r.level >= 50);
    assert.deepEqual(errors, [], 'nothing logged at error level');
    assert.ok(!records().some((r) => JSON.stringify(r).includes('"stack"')), 'no stack trace in the log');
  });
});

describe('connections answered on the raw socket', () => {
  it('are let go even when the client sends on after its request, so the server can stop', async () => {
    const server = await startTestServer();
    const websocket = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    // More than a socket buffers unread: the server stops reading before it could see the client's end.
    const more = 'x'.repeat(200_000);
    const requests = [
      [`GET /nope HTTP/1.1\r\nHost: x\r\n${websocket}\r\n${more}`, 404],
      [`GET /ws/chat HTTP/1.1\r\nHost: x\r\n${websocket}\r\n${more}`, 401],
      [`GET //[ HTTP/1.1\r\nHost: x\r\n${websocket}\r\n${more}`, 400],
      [`CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n${more}`, 400],
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n${more}`, 200],
    ] as const;
    for (const [request, status] of requests) {
      assert.equal(await statusOf(server.port, request), status, request.slice(0, 40));
    }
    // A graceful stop waits for every connection: one still held open would keep it from ending.
    await server.close();
  });
});

describe('what is wrong with a request, in words', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it("names the field and says what it must be, over HTTP and WebSocket, never in zod's words", async () => {
    const post = (path: string, json: unknown, token?: string) => postBytes(`${server.url}${path}`, [JSON.stringify(json)], token ? { token } : {});
    const said = (a: Answer) => [a.status, a.body.error?.message];
    assert.deepEqual(said(await post('/api/guest', { name: 42 })), [400, 'name must be a string']);
    assert.deepEqual(said(await post('/api/guest', {})), [400, 'name is missing']);
    const dora = await signInGuest(server.url, 'dora');
    assert.deepEqual(said(await post('/api/rooms', { name: 'plain', private: 'yes' }, dora.token)), [400, 'private must be true or false']);
    assert.deepEqual(said(await post('/api/rooms/lobby/messages', { data: 'hi', cid: 7 }, dora.token)), [400, 'cid must be a string']);

    const c = await ChatClient.connect(server.wsUrl, dora.token);
    const refusal = async (frame: unknown) => {
      c.ws.send(JSON.stringify(frame));
      return (await c.next('error')).message;
    };
    assert.equal(await refusal({ type: 'chat', room: 'lobby', data: 5 }), 'data must be a string');
    assert.equal(await refusal({ type: 'chat', room: 'lobby' }), 'data is missing');
    assert.equal(await refusal({ type: 'shout', room: 'lobby' }), 'type must be one of join, leave, chat, dm, history, typing, edit, delete, react, read, search, kick, ban, unban, mute, unmute, role');
    assert.equal(await refusal({ type: 'history', room: 'lobby', limit: 500 }), 'limit must be at most 100');
    assert.equal(await refusal({ type: 'join', room: 'lobby', after: 1.5 }), 'after must be a whole number');
    assert.equal(await refusal(5), 'frame must be an object');
    await c.close();
  });
});

describe('request bodies are UTF-8 or refused', () => {
  let server: TestServer;
  before(async () => {
    // Long enough messages that a body spans several reads, so characters straddle chunk boundaries.
    server = await startTestServer({ MAX_TEXT: '20000' });
  });
  after(() => server.close());

  it('refuses a body that is not valid UTF-8 with 400 and stores nothing', async () => {
    const lobby = `${server.url}/api/rooms/lobby/messages`;
    const carol = await signInGuest(server.url, 'carol');
    const before = await getJson(lobby, carol.token);
    assert.equal(before.status, 200);
    for (const bad of NOT_UTF8) {
      const what = bad.map((b) => b.toString(16)).join(' ');
      assertError(await postBytes(lobby, ['{"data":"caf', bad, '"}'], { token: carol.token }), 400, 'bad_request', /not valid UTF-8/, what);
      // Compressed, the check applies to what the body inflates to.
      const gzipped = await postBytes(lobby, ['{"data":"caf', bad, '"}'], { token: carol.token, gzip: true });
      assertError(gzipped, 400, 'bad_request', /not valid UTF-8/, `gzip ${what}`);
    }
    assert.deepEqual(await getJson(lobby, carol.token), before, 'no message was stored');

    const register = await postBytes(`${server.url}/api/register`, ['{"name":"zo', [0xeb], '","password":"correct horse"}']);
    assertError(register, 400, 'bad_request', /not valid UTF-8/);
    // The account a lenient decoder would have made ("zo" + U+FFFD) does not exist.
    const login = await postBytes(`${server.url}/api/login`, [JSON.stringify({ name: 'zo\uFFFD', password: 'correct horse' })]);
    assertError(login, 401, 'unauthorized', /wrong name or password/);
    assertError(await postBytes(`${server.url}/api/guest`, ['{"name":"', [0xff], '"}']), 400, 'bad_request', /not valid UTF-8/);
  });

  it('refuses a body in a declared charset other than UTF-8 with 415 and stores nothing', async () => {
    const lobby = `${server.url}/api/rooms/lobby/messages`;
    const dave = await signInGuest(server.url, 'dave');
    const before = await getJson(lobby, dave.token);
    for (const charset of ['iso-8859-1', 'utf-16']) {
      const latin = await postBytes(lobby, ['{"data":"caf', [0xe9], '"}'], { token: dave.token, headers: { 'content-type': `application/json; charset=${charset}` } });
      assertError(latin, 415, 'unsupported_media_type', /UTF-8/);
    }
    assert.deepEqual(await getJson(lobby, dave.token), before, 'no message was stored');
  });

  it('refuses a \\u escape of a lone UTF-16 surrogate, which is not text either, and keeps an escaped pair', async () => {
    const lobby = `${server.url}/api/rooms/lobby/messages`;
    const erin = await signInGuest(server.url, 'erin');
    const before = await getJson(lobby, erin.token);
    for (const lone of ['\\ud800', '\\udfff', '\\ude00\\ud83d']) {
      const answer = await postBytes(lobby, [`{"data":"a${lone}b"}`], { token: erin.token });
      assertError(answer, 400, 'bad_request', /not valid UTF-8.*lone UTF-16 surrogate/, lone);
    }
    assert.deepEqual(await getJson(lobby, erin.token), before, 'no message was stored');
    const pair = await postBytes(lobby, ['{"data":"a\\ud83d\\ude00b"}'], { token: erin.token });
    assert.equal(pair.status, 201, JSON.stringify(pair.body));
    const history = await getJson(`${lobby}?limit=1`, erin.token);
    assert.equal(history.body.data[0].data, 'a😀b');
  });

  it('stores non-ASCII text from a UTF-8 body exactly, compressed or not, with or without charset=utf-8', async () => {
    const name = '小明🎉';
    const registered = await postBytes(`${server.url}/api/register`, [JSON.stringify({ name, password: 'correct horse' })], {
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.user.name, name);
    const me = await getJson(`${server.url}/api/me`, registered.body.token);
    assert.equal(me.body.user.name, name);
    const guest = await postBytes(`${server.url}/api/guest`, [JSON.stringify({ name: '你好 👋🏽' })], { gzip: true });
    assert.equal(guest.status, 200, JSON.stringify(guest.body));
    assert.equal(guest.body.user.name, '你好 👋🏽');

    const lobby = `${server.url}/api/rooms/lobby/messages`;
    // The last one is about 60 KB of 3-byte characters: just under the body limit.
    const texts = ['你好, café ☕', '👨‍👩‍👧 and 🇯🇵', '你'.repeat(20_000)];
    for (const [i, data] of texts.entries()) {
      const posted = await postBytes(lobby, [JSON.stringify({ data, cid: `utf8-${i}` })], { token: registered.body.token, gzip: i === 1 });
      assert.equal(posted.status, 201, JSON.stringify(posted.body));
    }
    const history = await getJson(`${lobby}?limit=${texts.length}`, registered.body.token);
    assert.deepEqual(
      history.body.data.map((m: { data: string; user: { name: string } }) => [m.user.name, m.data]),
      texts.map((data) => [name, data]),
    );
  });

  it('stores a character whose bytes arrive in two pieces whole', async () => {
    const frank = await signInGuest(server.url, 'frank');
    const body = Buffer.from(JSON.stringify({ data: 'split 你好 here' }));
    const cut = body.indexOf(Buffer.from('你')) + 1; // after the first of its three bytes
    const posted = await postInTwoPieces(server.port, '/api/rooms/lobby/messages', frank.token, body.subarray(0, cut), body.subarray(cut));
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const history = await getJson(`${server.url}/api/rooms/lobby/messages?limit=1`, frank.token);
    assert.equal(history.body.data[0].data, 'split 你好 here');
  });
});

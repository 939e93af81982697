/**
 * The HTTP API against the real server: sign-in, sessions, rooms, messages, health, static files,
 * and every error status a client can cause.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChatClient } from '../helpers/chat-client.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startTestServer, tempDataDir, type TestServer } from '../helpers/server.js';
import { loadConfig } from '../../src/server/config.js';
import { startParley } from '../../src/server/app.js';

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of any endpoint
}

interface Call {
  method?: string;
  json?: unknown;
  /** Sent as is, with the given content type (default application/json). */
  raw?: string;
  contentType?: string;
  token?: string;
  cookie?: string;
  headers?: Record<string, string>;
}

async function call(base: string, path: string, options: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined || options.raw !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    body = options.raw ?? JSON.stringify(options.json);
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  const res = await fetch(base + path, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body?.error?.code, code, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.error.message, 'string');
  assert.ok(answer.body.error.message.length > 0);
}

/** The name=value of the session cookie from a response, ready for a Cookie header. */
function sessionCookieOf(answer: Answer): string {
  const setCookie = answer.headers.getSetCookie().find((c) => c.startsWith('parley_session='));
  assert.ok(setCookie, 'a parley_session cookie is set');
  return setCookie.split(';')[0]!;
}

type SignIn = { user: { id: number; name: string; guest: boolean }; token: string };

async function guest(base: string, name: string): Promise<SignIn> {
  const a = await call(base, '/api/guest', { json: { name } });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return a.body as SignIn;
}

async function register(base: string, name: string, password = 'correct horse'): Promise<SignIn> {
  const a = await call(base, '/api/register', { json: { name, password } });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  return a.body as SignIn;
}

describe('sign-in and sessions', () => {
  let server: TestServer;
  let base: string;
  before(async () => {
    // These tests sign in more often than the sign-in limit allows one address (it has its own test).
    server = await startTestServer({ SIGNIN_RATE: '0' });
    base = server.url;
  });
  after(() => server.close());

  it('registers an account: 201 with the user, a token and an HttpOnly SameSite=Lax cookie', async () => {
    const a = await call(base, '/api/register', { json: { name: 'alice', password: 'correct horse' } });
    assert.equal(a.status, 201);
    assert.deepEqual(Object.keys(a.body).sort(), ['token', 'user']);
    assert.equal(a.body.user.name, 'alice');
    assert.equal(a.body.user.guest, false);
    assert.ok(Number.isInteger(a.body.user.id) && a.body.user.id > 0);
    assert.match(a.body.token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const setCookie = a.headers.getSetCookie().find((c) => c.startsWith('parley_session='))!;
    assert.ok(setCookie.startsWith(`parley_session=${a.body.token};`));
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Lax/);
    assert.match(setCookie, /; Path=\//);
    assert.match(setCookie, /; Max-Age=\d+/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain HTTP: a Secure cookie would never come back');
    assert.doesNotMatch(JSON.stringify(a.body), /correct horse/);
  });

  it('logs in with the password: 200 and a working token; wrong name and wrong password answer alike', async () => {
    await register(base, 'bob', 'bobs password');
    const ok = await call(base, '/api/login', { json: { name: 'bob', password: 'bobs password' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.user.name, 'bob');
    sessionCookieOf(ok);
    const me = await call(base, '/api/me', { token: ok.body.token });
    assert.deepEqual(me.body, { user: ok.body.user });

    const wrongPassword = await call(base, '/api/login', { json: { name: 'bob', password: 'not his password' } });
    const wrongName = await call(base, '/api/login', { json: { name: 'nobody-here', password: 'bobs password' } });
    const badName = await call(base, '/api/login', { json: { name: '', password: 'bobs password' } });
    for (const a of [wrongPassword, wrongName, badName]) assertError(a, 401, 'unauthorized');
    assert.equal(wrongPassword.body.error.message, wrongName.body.error.message);
    assert.equal(wrongPassword.body.error.message, badName.body.error.message);
    assert.deepEqual(wrongPassword.headers.getSetCookie(), []);
  });

  it('logs in case-insensitively by name', async () => {
    const a = await call(base, '/api/login', { json: { name: 'BOB', password: 'bobs password' } });
    assert.equal(a.status, 200);
    assert.equal(a.body.user.name, 'bob');
  });

  it('signs in a guest by name: 200, guest true; two guests may share a name', async () => {
    const g1 = await guest(base, 'visitor');
    const g2 = await guest(base, 'visitor');
    assert.equal(g1.user.guest, true);
    assert.equal(g1.user.name, 'visitor');
    assert.notEqual(g1.user.id, g2.user.id);
  });

  it('works with Chinese names: register, log in, guest', async () => {
    const r = await register(base, '小明', '我的密码很安全的');
    assert.equal(r.user.name, '小明');
    const l = await call(base, '/api/login', { json: { name: '小明', password: '我的密码很安全的' } });
    assert.equal(l.status, 200);
    assert.equal(l.body.user.id, r.user.id);
    const g = await guest(base, '小红');
    assert.equal(g.user.name, '小红');
    const me = await call(base, '/api/me', { token: g.token });
    assert.equal(me.body.user.name, '小红');
  });

  it('refuses a taken name with 409, compared case-insensitively, for accounts and guests', async () => {
    await register(base, 'Carol');
    assertError(await call(base, '/api/register', { json: { name: 'carol', password: 'another one' } }), 409, 'name_taken');
    assertError(await call(base, '/api/register', { json: { name: 'CAROL', password: 'another one' } }), 409, 'name_taken');
    assertError(await call(base, '/api/guest', { json: { name: 'cArOl' } }), 409, 'name_taken');
  });

  it('refuses with 409 a name that looks like a registered one: full-width, Cyrillic, dotless i, Turkish capital I', async () => {
    await register(base, 'alina');
    for (const name of ['ａｌｉｎａ', '\u0430lina', 'al\u0131na', 'AL\u0130NA']) {
      assertError(await call(base, '/api/guest', { json: { name } }), 409, 'name_taken');
      assertError(await call(base, '/api/register', { json: { name, password: 'another one' } }), 409, 'name_taken');
    }
    // Guests may still share a name that no account has, look-alike or not.
    assert.equal((await guest(base, 'visitor')).user.name, 'visitor');
    assert.equal((await guest(base, 'ｖｉｓｉｔｏｒ')).user.name, 'ｖｉｓｉｔｏｒ');
  });

  it('GET /api/me knows the session from a Bearer token or from the cookie', async () => {
    const r = await register(base, 'dave');
    const bearer = await call(base, '/api/me', { token: r.token });
    assert.equal(bearer.status, 200);
    assert.deepEqual(bearer.body.user, r.user);
    const login = await call(base, '/api/login', { json: { name: 'dave', password: 'correct horse' } });
    const cookie = await call(base, '/api/me', { cookie: `theme=dark; ${sessionCookieOf(login)}` });
    assert.equal(cookie.status, 200);
    assert.deepEqual(cookie.body.user, r.user);
  });

  it('answers 401 without a session, with a tampered token and with a token of another server', async () => {
    const r = await guest(base, 'erin');
    const none = await call(base, '/api/me');
    assertError(none, 401, 'unauthorized');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');

    const [payload, signature] = r.token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...claims, name: 'alice', guest: false })).toString('base64url');
    assertError(await call(base, '/api/me', { token: `${forged}.${signature}` }), 401, 'unauthorized');
    const flipped = signature.slice(0, 5) + (signature[5] === 'A' ? 'B' : 'A') + signature.slice(6);
    assertError(await call(base, '/api/me', { token: `${payload}.${flipped}` }), 401, 'unauthorized');
    assertError(await call(base, '/api/me', { cookie: `parley_session=${forged}.${signature}` }), 401, 'unauthorized');
    assertError(await call(base, '/api/me', { token: 'garbage' }), 401, 'unauthorized');

    const other = await startTestServer();
    try {
      const stranger = await guest(other.url, 'erin');
      assertError(await call(base, '/api/me', { token: stranger.token }), 401, 'unauthorized');
    } finally {
      await other.close();
    }
  });

  it('GET /api/session answers 200 with the user or null, never 401, and the limit of a message', async () => {
    const r = await guest(base, 'gus');
    const none = await call(base, '/api/session');
    assert.equal(none.status, 200);
    assert.deepEqual(none.body, { user: null, limits: { maxText: 4000 } });
    assert.equal(none.headers.get('cache-control'), 'no-store');
    const bearer = await call(base, '/api/session', { token: r.token });
    assert.deepEqual(bearer.body, { user: r.user, limits: { maxText: 4000 } });
    const cookie = await call(base, '/api/session', { cookie: `parley_session=${r.token}` });
    assert.deepEqual(cookie.body.user, r.user);
    // A token that is not valid (here tampered) is no session: null, as with none.
    const [payload, signature] = r.token.split('.') as [string, string];
    const tampered = await call(base, '/api/session', { token: `${payload}.${signature.slice(0, -2)}xx` });
    assert.equal(tampered.status, 200);
    assert.equal(tampered.body.user, null);
    assertError(await call(base, '/api/session', { method: 'POST' }), 405, 'method_not_allowed');
  });

  it('logs out: 204 and the cookie is cleared', async () => {
    const r = await guest(base, 'frank');
    const a = await call(base, '/api/logout', { method: 'POST', token: r.token });
    assert.equal(a.status, 204);
    const cleared = a.headers.getSetCookie().find((c) => c.startsWith('parley_session='))!;
    assert.match(cleared, /^parley_session=;/);
    assert.match(cleared, /Max-Age=0/);
    assert.match(cleared, /HttpOnly/);
  });

});

describe('sign-in input checks', () => {
  // Its own server: every attempt counts against the sign-in rate limit of 127.0.0.1.
  let server: TestServer;
  let base: string;
  before(async () => {
    server = await startTestServer();
    base = server.url;
  });
  after(() => server.close());

  it('validates sign-in bodies: 400 with a message naming the field', async () => {
    const short = await call(base, '/api/register', { json: { name: 'gina', password: 'short' } });
    assertError(short, 400, 'bad_request');
    assert.match(short.body.error.message, /password/);
    const long = await call(base, '/api/register', { json: { name: 'gina', password: 'x'.repeat(201) } });
    assertError(long, 400, 'bad_request');
    const emptyName = await call(base, '/api/guest', { json: { name: '   ' } });
    assertError(emptyName, 400, 'bad_request');
    assert.match(emptyName.body.error.message, /name/);
    assertError(await call(base, '/api/guest', { json: { name: 'x'.repeat(33) } }), 400, 'bad_request');
    assertError(await call(base, '/api/guest', { json: { name: 'bad\u0007name' } }), 400, 'bad_request');
    assertError(await call(base, '/api/guest', { json: { name: 42 } }), 400, 'bad_request');
    assertError(await call(base, '/api/guest', { json: {} }), 400, 'bad_request');
    assertError(await call(base, '/api/login', { json: { name: ['bob'], password: null } }), 400, 'bad_request');
    assertError(await call(base, '/api/guest', { json: ['name'] }), 400, 'bad_request');
  });

  it('never crashes on malformed bodies: bad JSON, wrong content type, empty body are 400', async () => {
    const bad = await call(base, '/api/guest', { raw: '{"name": "x"' });
    assertError(bad, 400, 'bad_request');
    assert.match(bad.body.error.message, /JSON/);
    assertError(await call(base, '/api/guest', { raw: '"just a string"' }), 400, 'bad_request');
    assertError(await call(base, '/api/guest', { raw: '' }), 400, 'bad_request');
    // Valid JSON, so the refusal names the key rather than calling the body malformed.
    const proto = await call(base, '/api/guest', { raw: '{"__proto__": {"x": 1}, "name": "p"}' });
    assertError(proto, 400, 'bad_request');
    assert.equal(proto.body.error.message, 'the body must not have a "__proto__" key');
    const form = await call(base, '/api/guest', { raw: 'name=x', contentType: 'application/x-www-form-urlencoded' });
    assertError(form, 400, 'bad_request');
    assert.match(form.body.error.message, /application\/json/);
    assertError(await call(base, '/api/guest', { raw: '{"name":"x"}', contentType: 'text/plain' }), 400, 'bad_request');
    const gzipLie = await call(base, '/api/guest', { raw: '{"name":"x"}', headers: { 'content-encoding': 'gzip' } });
    assertError(gzipLie, 400, 'bad_request');
    // The server is still fine.
    assert.equal((await call(base, '/healthz')).status, 200);
  });

  it('refuses a body over the limit with 413', async () => {
    const huge = await call(base, '/api/guest', { json: { name: 'x', pad: 'y'.repeat(200 * 1024) } });
    assertError(huge, 413, 'too_large');
    assert.equal((await call(base, '/healthz')).status, 200);
  });
});

describe('GET /api/session with MAX_TEXT set', () => {
  it('gives the server\'s MAX_TEXT as limits.maxText', async () => {
    const server = await startTestServer({ MAX_TEXT: '280' });
    try {
      const answer = await call(server.url, '/api/session');
      assert.deepEqual(answer.body, { user: null, limits: { maxText: 280 } });
    } finally {
      await server.close();
    }
  });
});

describe('sign-in with guests turned off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ GUESTS: 'off' });
  });
  after(() => server.close());

  it('answers /api/guest with 403 and still registers accounts', async () => {
    const g = await call(server.url, '/api/guest', { json: { name: 'visitor' } });
    assertError(g, 403, 'forbidden');
    assert.match(g.body.error.message, /guest/);
    await register(server.url, 'member');
  });
});

describe('sign-in rate limit and proxies', () => {
  let server: TestServer;
  before(async () => {
    // The test itself plays the trusted proxy, so it can speak for several client addresses.
    server = await startTestServer({ TRUST_PROXY: '127.0.0.1' });
  });
  after(() => server.close());

  it('answers 429 with Retry-After to one address that keeps trying, while another address still gets in', async () => {
    const attacker = { 'x-forwarded-for': '203.0.113.7' };
    let limited: Answer | undefined;
    let tries = 0;
    // Guest sign-ins are cheap for the server (no scrypt), so the test stays light on the CPU.
    while (!limited && tries < 200) {
      tries++;
      const a = await call(server.url, '/api/guest', { json: { name: `bot-${tries}` }, headers: attacker });
      if (a.status === 429) limited = a;
      else assert.equal(a.status, 200);
    }
    assert.ok(limited, 'rate limited within 200 attempts');
    assertError(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const login = await call(server.url, '/api/login', { json: { name: 'victim', password: 'guess-guess' }, headers: attacker });
    assertError(login, 429, 'rate_limited');
    assertError(await call(server.url, '/api/register', { json: { name: 'r', password: 'long enough' }, headers: attacker }), 429, 'rate_limited');

    const other = await call(server.url, '/api/guest', { json: { name: 'neighbour' }, headers: { 'x-forwarded-for': '203.0.113.8' } });
    assert.equal(other.status, 200);
  });

  it('marks the cookie Secure when a trusted proxy says the client used HTTPS', async () => {
    const a = await call(server.url, '/api/guest', {
      json: { name: 'tls-user' },
      headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' },
    });
    assert.equal(a.status, 200);
    assert.match(a.headers.getSetCookie().find((c) => c.startsWith('parley_session='))!, /; Secure/);
  });
});

describe('sign-in rate limit without a trusted proxy', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('ignores a spoofed X-Forwarded-For: a new address per request does not escape the limit', async () => {
    let limited = false;
    for (let i = 0; i < 200 && !limited; i++) {
      const a = await call(server.url, '/api/guest', {
        json: { name: `bot-${i}` },
        headers: { 'x-forwarded-for': `198.51.100.${i % 250}` },
      });
      limited = a.status === 429;
    }
    assert.ok(limited);
  });
});

describe('rooms and messages', () => {
  let server: TestServer;
  let base: string;
  let alice: SignIn;
  let bob: SignIn;
  let carol: SignIn;
  before(async () => {
    server = await startTestServer({ MAX_TEXT: '1000' });
    base = server.url;
    alice = await register(base, 'alice');
    bob = await guest(base, 'bob');
    carol = await guest(base, '小明');
  });
  after(() => server.close());

  it('finds users by the start of their name, accounts before guests, for a signed-in user only', async () => {
    const found = await call(base, `/api/users?q=${encodeURIComponent('AL')}`, { token: bob.token });
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.users, [{ id: alice.user.id, name: 'alice', guest: false }]);
    const chinese = await call(base, `/api/users?q=${encodeURIComponent('小')}&limit=5`, { token: alice.token });
    assert.deepEqual(chinese.body.users, [{ id: carol.user.id, name: '小明', guest: true }]);
    assert.deepEqual((await call(base, '/api/users?q=nobody-at-all', { token: alice.token })).body.users, []);
    assertError(await call(base, '/api/users?q=al'), 401, 'unauthorized');
    for (const [query, message] of [
      ['', /^q /],
      ['?q=%20%20', /q must not be empty/],
      ['?q=a&limit=500', /limit must be/],
    ] as const) {
      const refused = await call(base, `/api/users${query}`, { token: alice.token });
      assertError(refused, 400, 'bad_request');
      assert.match(refused.body.error.message, message);
    }
  });

  it('lists the rooms a user can see, lobby included', async () => {
    const a = await call(base, '/api/rooms', { token: alice.token });
    assert.equal(a.status, 200);
    const lobby = a.body.rooms.find((r: { name: string }) => r.name === 'lobby');
    assert.deepEqual(lobby, { name: 'lobby', private: false, direct: false, lastId: lobby.lastId });
    assertError(await call(base, '/api/rooms'), 401, 'unauthorized');
  });

  it('creates a public room: 201, visible to everyone; 409 when it exists; 400 for a bad name', async () => {
    const a = await call(base, '/api/rooms', { token: bob.token, json: { name: 'general' } });
    assert.equal(a.status, 201);
    assert.deepEqual(a.body, { room: { name: 'general', private: false, direct: false, lastId: 0 } });
    const list = await call(base, '/api/rooms', { token: carol.token });
    assert.ok(list.body.rooms.some((r: { name: string }) => r.name === 'general'));
    assertError(await call(base, '/api/rooms', { token: alice.token, json: { name: 'general' } }), 409, 'room_exists');
    assertError(await call(base, '/api/rooms', { token: alice.token, json: { name: 'has space' } }), 400, 'bad_request');
    assertError(await call(base, '/api/rooms', { token: alice.token, json: { name: 'dm:1:2' } }), 400, 'bad_request');
    assertError(await call(base, '/api/rooms', { token: alice.token, json: { name: 'x', private: 'yes' } }), 400, 'bad_request');
    assertError(await call(base, '/api/rooms', { json: { name: 'anon' } }), 401, 'unauthorized');
  });

  it('creates a room with a Chinese name and posts to it', async () => {
    const a = await call(base, '/api/rooms', { token: carol.token, json: { name: '聊天室' } });
    assert.equal(a.status, 201);
    const path = `/api/rooms/${encodeURIComponent('聊天室')}/messages`;
    const p = await call(base, path, { token: carol.token, json: { data: '你好，世界' } });
    assert.equal(p.status, 201);
    const h = await call(base, path, { token: alice.token });
    assert.equal(h.status, 200);
    assert.equal(h.body.data[0].data, '你好，世界');
    assert.deepEqual(h.body.data[0].user, { id: carol.user.id, name: '小明', guest: true });
  });

  it('private rooms: only members read, write and add members; 404 for unknown rooms and users', async () => {
    const created = await call(base, '/api/rooms', { token: alice.token, json: { name: 'secret-club', private: true } });
    assert.equal(created.status, 201);
    assert.equal(created.body.room.private, true);
    const path = '/api/rooms/secret-club/messages';

    // A non-member gets what a missing room gets (but for the name), so private names stay unknown.
    const asIfMissing = async (template: string, options: Call) => {
      const forPrivate = await call(base, template.replace('ROOM', 'secret-club'), options);
      const forMissing = await call(base, template.replace('ROOM', 'no-such-club'), options);
      assertError(forPrivate, 404, 'not_found');
      assert.deepEqual(
        [forPrivate.status, JSON.stringify(forPrivate.body).replace('secret-club', 'ROOM')],
        [forMissing.status, JSON.stringify(forMissing.body).replace('no-such-club', 'ROOM')],
        template,
      );
    };
    await asIfMissing('/api/rooms/ROOM/messages', { token: bob.token });
    await asIfMissing('/api/rooms/ROOM/messages?after=0', { token: bob.token });
    await asIfMissing('/api/rooms/ROOM/messages', { token: bob.token, json: { data: 'let me in' } });
    await asIfMissing('/api/rooms/ROOM/members', { token: bob.token, json: { user: bob.user.id } });
    const bobsRooms = await call(base, '/api/rooms', { token: bob.token });
    assert.ok(!bobsRooms.body.rooms.some((r: { name: string }) => r.name === 'secret-club'));

    assertError(await call(base, '/api/rooms/no-such-room/members', { token: alice.token, json: { user: bob.user.id } }), 404, 'not_found');
    assertError(await call(base, '/api/rooms/secret-club/members', { token: alice.token, json: { user: 999_999 } }), 404, 'not_found');
    // Bob is a guest: names find registered accounts only (guests may share a name).
    assertError(await call(base, '/api/rooms/secret-club/members', { token: alice.token, json: { user: 'bob' } }), 404, 'not_found');
    assertError(await call(base, '/api/rooms/secret-club/members', { token: alice.token, json: { user: true } }), 400, 'bad_request');
    const dora = await register(base, 'Dora', 'doras password');
    const byName = await call(base, '/api/rooms/secret-club/members', { token: alice.token, json: { user: 'dora' } });
    assert.equal(byName.status, 200);
    assert.deepEqual(byName.body.user, { id: dora.user.id, name: 'Dora' });

    const added = await call(base, '/api/rooms/secret-club/members', { token: alice.token, json: { user: bob.user.id } });
    assert.equal(added.status, 200);
    assert.deepEqual(added.body, {
      room: { name: 'secret-club', private: true, direct: false, lastId: 0 },
      user: { id: bob.user.id, name: 'bob', guest: true },
    });
    assert.equal((await call(base, path, { token: bob.token, json: { data: 'thanks' } })).status, 201);
    assert.equal((await call(base, path, { token: bob.token })).status, 200);
    const nowBobs = await call(base, '/api/rooms', { token: bob.token });
    assert.ok(nowBobs.body.rooms.some((r: { name: string }) => r.name === 'secret-club'));
    // A new member may add others too; a non-member still may not.
    assertError(await call(base, '/api/rooms/secret-club/members', { token: carol.token, json: { user: carol.user.id } }), 404, 'not_found');
    assert.equal((await call(base, '/api/rooms/secret-club/members', { token: bob.token, json: { user: carol.user.id } })).status, 200);
    assert.equal((await call(base, path, { token: carol.token })).status, 200);

    assertError(await call(base, '/api/rooms/no-such-room/messages', { token: alice.token }), 404, 'not_found');
    assertError(await call(base, '/api/rooms/no-such-room/messages', { token: alice.token, json: { data: 'x' } }), 404, 'not_found');
    assertError(await call(base, `/api/rooms/dm:${alice.user.id}:${bob.user.id}/messages`, { token: alice.token }), 404, 'not_found');
  });

  it('publishes with ids 1, 2, 3; a repeated cid is stored once and answered 200 with the same id', async () => {
    await call(base, '/api/rooms', { token: alice.token, json: { name: 'numbers' } });
    const path = '/api/rooms/numbers/messages';
    const ids: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const a = await call(base, path, { token: alice.token, json: { data: `m${i}` } });
      assert.equal(a.status, 201);
      assert.equal(a.body.room, 'numbers');
      assert.equal(typeof a.body.ts, 'number');
      assert.equal(a.body.cid, undefined);
      ids.push(a.body.id);
    }
    assert.deepEqual(ids, [1, 2, 3]);
    const first = await call(base, path, { token: alice.token, json: { data: 'once', cid: 'bot-42' } });
    assert.equal(first.status, 201);
    assert.deepEqual(first.body, { room: 'numbers', id: 4, ts: first.body.ts, cid: 'bot-42' });
    const again = await call(base, path, { token: alice.token, json: { data: 'once', cid: 'bot-42' } });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, first.body);
    const rooms = await call(base, '/api/rooms', { token: alice.token });
    assert.equal(rooms.body.rooms.find((r: { name: string }) => r.name === 'numbers').lastId, 4);
  });

  it('reads history oldest first with before, after and limit', async () => {
    await call(base, '/api/rooms', { token: alice.token, json: { name: 'history' } });
    const path = '/api/rooms/history/messages';
    for (let i = 1; i <= 5; i++) await call(base, path, { token: bob.token, json: { data: `h${i}` } });
    const all = await call(base, path, { token: alice.token });
    assert.equal(all.status, 200);
    assert.equal(all.body.room, 'history');
    assert.equal(all.body.more, false);
    assert.deepEqual(all.body.data.map((m: { id: number }) => m.id), [1, 2, 3, 4, 5]);
    const m1 = all.body.data[0];
    assert.equal(m1.type, 'chat');
    assert.equal(m1.room, 'history');
    assert.equal(m1.data, 'h1');
    assert.deepEqual(m1.user, { id: bob.user.id, name: 'bob', guest: true });
    assert.equal(typeof m1.ts, 'number');

    const latest = await call(base, `${path}?limit=2`, { token: alice.token });
    assert.deepEqual(latest.body.data.map((m: { id: number }) => m.id), [4, 5]);
    assert.equal(latest.body.more, true);
    const older = await call(base, `${path}?before=4&limit=2`, { token: alice.token });
    assert.deepEqual(older.body.data.map((m: { id: number }) => m.id), [2, 3]);
    assert.equal(older.body.more, true);
    const newer = await call(base, `${path}?after=3`, { token: alice.token });
    assert.deepEqual(newer.body.data.map((m: { id: number }) => m.id), [4, 5]);
    assert.equal(newer.body.more, false);
    const catchingUp = await call(base, `${path}?after=1&limit=2`, { token: alice.token });
    assert.deepEqual(catchingUp.body.data.map((m: { id: number }) => m.id), [2, 3]);
    assert.equal(catchingUp.body.more, true);

    for (const bad of ['limit=0', 'limit=101', 'limit=abc', 'limit=', 'before=-1', 'after=1.5', 'before=x', 'limit=1&limit=2']) {
      assertError(await call(base, `${path}?${bad}`, { token: alice.token }), 400, 'bad_request');
    }
    assertError(await call(base, path), 401, 'unauthorized');
  });

  it('validates published messages: empty 400, too long 413, not JSON 400', async () => {
    const path = '/api/rooms/lobby/messages';
    assertError(await call(base, path, { token: alice.token, json: { data: '' } }), 400, 'bad_request');
    assertError(await call(base, path, { token: alice.token, json: { data: 5 } }), 400, 'bad_request');
    assertError(await call(base, path, { token: alice.token, json: { data: 'x', cid: 'c'.repeat(65) } }), 400, 'bad_request');
    const long = await call(base, path, { token: alice.token, json: { data: 'x'.repeat(1001) } });
    assertError(long, 413, 'too_large');
    assertError(await call(base, path, { token: alice.token, raw: '{data:' }), 400, 'bad_request');
    assertError(await call(base, '/api/rooms/bad%20name/messages', { token: alice.token }), 400, 'bad_request');
    assertError(await call(base, path, { json: { data: 'anonymous' } }), 401, 'unauthorized');
  });

  it('fans a message published over HTTP out to WebSocket subscribers', async () => {
    const client = await ChatClient.connect(server.wsUrl, bob.token);
    try {
      client.send({ type: 'join', room: 'lobby' });
      await client.next('list', (f) => f.room === 'lobby');
      const posted = await call(base, '/api/rooms/lobby/messages', { token: alice.token, json: { data: 'from a bot', cid: 'b1' } });
      assert.equal(posted.status, 201);
      const frame = await client.next('chat', (f) => f.room === 'lobby' && f.data === 'from a bot');
      assert.equal(frame.id, posted.body.id);
      assert.equal(frame.ts, posted.body.ts);
      assert.deepEqual(frame.user, { id: alice.user.id, name: 'alice' });
    } finally {
      await client.close();
    }
  });

  it('DM rooms: readable by their two members only, with the room name plain or percent-encoded', async () => {
    const client = await ChatClient.connect(server.wsUrl, alice.token);
    let room: string;
    try {
      client.send({ type: 'dm', to: bob.user.id, data: 'psst', cid: 'dm1' });
      room = (await client.next('ack', (f) => f.cid === 'dm1')).room as string;
    } finally {
      await client.close();
    }
    const [low, high] = [alice.user.id, bob.user.id].sort((x, y) => x - y);
    assert.equal(room, `dm:${low}:${high}`);
    for (const path of [`/api/rooms/${room}/messages`, `/api/rooms/${encodeURIComponent(room)}/messages`]) {
      const a = await call(base, path, { token: bob.token });
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.deepEqual(a.body.data.map((m: { data: string }) => m.data), ['psst']);
      // Carol is not in the conversation: to her it does not exist.
      assertError(await call(base, path, { token: carol.token }), 404, 'not_found');
    }
    // Its members are told the real reason.
    assertError(await call(base, `/api/rooms/${room}/members`, { token: alice.token, json: { user: carol.user.id } }), 403, 'forbidden');
    assertError(await call(base, `/api/rooms/${room}/members`, { token: carol.token, json: { user: carol.user.id } }), 404, 'not_found');
    const reply = await call(base, `/api/rooms/${encodeURIComponent(room)}/messages`, { token: bob.token, json: { data: 'hi back' } });
    assert.equal(reply.status, 201);
    assert.equal(reply.body.room, room);
    const rooms = await call(base, '/api/rooms', { token: bob.token });
    assert.ok(rooms.body.rooms.some((r: { name: string; direct: boolean }) => r.name === room && r.direct));
  });
});

describe('health, metrics, static files and unknown paths', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('GET /healthz is 200 ok and GET /readyz is 200 while the store answers, naming the node', async () => {
    const h = await call(server.url, '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.body, { status: 'ok' });
    const r = await call(server.url, '/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ready');
    assert.match(r.body.node, /^[A-Za-z0-9._-]+-\d+$/, 'the default NODE_ID: host name and process id');
  });

  it('GET /metrics is Prometheus text with Parley and process metrics', async () => {
    await call(server.url, '/healthz');
    const m = await call(server.url, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(m.body, /^# HELP parley_connections /m);
    assert.match(m.body, /^parley_http_requests_total\{method="GET",status="200"\} [1-9]/m);
    assert.match(m.body, /^parley_process_cpu_user_seconds_total /m);
    assert.match(m.body, /^parley_node_info\{node="[^"]+"\} 1$/m);
    assert.match(m.body, /^parley_store_seconds_count\{method="getRoom"\} [1-9]/m);
  });

  it('serves the web app at / and index.html for page paths, but 404 for missing files', async () => {
    const root = await fetch(server.url + '/');
    assert.equal(root.status, 200);
    assert.match(root.headers.get('content-type') ?? '', /text\/html/);
    const html = await root.text();
    assert.match(html, /<html/i);
    const page = await fetch(server.url + '/rooms/lobby', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.equal(await page.text(), html);
    assert.equal((await fetch(server.url + '/assets/no-such-file.js')).status, 404);
    const traversal = await call(server.url, '/..%2F..%2F..%2Fetc%2Fpasswd');
    assert.ok([400, 403, 404].includes(traversal.status), `status ${traversal.status}`);
    assert.doesNotMatch(JSON.stringify(traversal.body), /root:/);

    const assetsDir = fileURLToPath(new URL('../../web/dist/assets/', import.meta.url));
    const asset = readdirSync(assetsDir).find((f) => f.endsWith('.js') || f.endsWith('.css'));
    if (asset) {
      const a = await fetch(`${server.url}/assets/${asset}`);
      assert.equal(a.status, 200);
      assert.match(a.headers.get('cache-control') ?? '', /immutable/);
      await a.arrayBuffer();
    }
  });

  it('answers unknown API paths 404, wrong methods 405 and plain GETs of WebSocket paths 426, all as JSON', async () => {
    assertError(await call(server.url, '/api/nope'), 404, 'not_found');
    assertError(await call(server.url, '/api'), 404, 'not_found');
    const wrong = await call(server.url, '/api/rooms', { method: 'DELETE' });
    assertError(wrong, 405, 'method_not_allowed');
    assert.match(wrong.headers.get('allow') ?? '', /POST/);
    assertError(await call(server.url, '/api/me', { method: 'POST' }), 405, 'method_not_allowed');
    assertError(await call(server.url, '/ws/chat'), 426, 'upgrade_required');
    const api = await call(server.url, '/api/nope');
    assert.equal(api.headers.get('cache-control'), 'no-store');
  });
});

describe('request logging', () => {
  it('logs requests at debug level without passwords or tokens', async () => {
    const { logger, lines } = captureLogs('debug');
    const config = loadConfig({}, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), LOG_LEVEL: 'debug' });
    const server = await startParley(config, { logger });
    let token: string | undefined;
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const password = 'a very secret passphrase';
      const r = await register(base, 'logged', password);
      token = r.token;
      await call(base, '/api/login', { json: { name: 'logged', password } });
      await call(base, '/api/login', { json: { name: 'logged', password: password + '!' } });
      await call(base, '/api/me', { token: r.token });
      await call(base, `/api/me?token=${r.token}`);
      await call(base, '/api/me', { cookie: `parley_session=${r.token}` });
    } finally {
      await server.close();
    }
    const log = lines.join('');
    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    assert.ok(requests.some((l) => l.path === '/api/me' && l.status === 200 && l.ip === '127.0.0.1'), 'requests are logged');
    assert.ok(requests.every((l) => l.level === 20), 'at debug level');
    assert.ok(!log.includes('secret passphrase'), 'no password in the log');
    assert.ok(token, 'signed in');
    assert.ok(!log.includes(token.split('.')[1]!), 'no token in the log');
  });
});

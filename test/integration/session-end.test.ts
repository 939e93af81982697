/**
 * A session ends at once: after a logout or a password change its token is refused over HTTP (401)
 * and on the upgrade (401), and its WebSocket connections that are open are closed with 4001.
 * Logout ends one session (the phone stays signed in); a password change ends them all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatClient, upgradeStatus, type SignedIn } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Answer {
  status: number;
  body: { user?: SignedIn['user']; token?: string; error?: { code: string; message: string } };
  setCookie: string[];
}

async function post(base: string, path: string, options: { token?: string; cookie?: string; json?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method: 'POST', headers, body: options.json === undefined ? undefined : JSON.stringify(options.json) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, setCookie: res.headers.getSetCookie() };
}

async function me(base: string, token: string): Promise<number> {
  return (await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status;
}

/** A connection that should be closed and is not would otherwise keep a test waiting for ever. */
const BOUND = { timeout: 15_000 };

describe('ending a session', () => {
  let server: TestServer;
  let base: string;
  const upgrade = (token: string) => upgradeStatus(`${server.wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${token}` } });
  const signIn = async (path: 'register' | 'login', name: string, password = 'correct horse'): Promise<SignedIn> => {
    const answer = await post(base, `/api/${path}`, { json: { name, password } });
    assert.equal(answer.status, path === 'register' ? 201 : 200, JSON.stringify(answer.body));
    return answer.body as SignedIn;
  };

  before(async () => {
    server = await startTestServer({ SIGNIN_RATE: '0' });
    base = server.url;
  });
  after(() => server.close());

  it('logout ends that session at once, over HTTP and WebSocket, and leaves the account\'s other sessions', BOUND, async () => {
    const laptop = await signIn('register', 'hana');
    const phone = await signIn('login', 'hana');
    const laptopChat = await ChatClient.connect(server.wsUrl, laptop.token);
    const phoneChat = await ChatClient.connect(server.wsUrl, phone.token);
    try {
      assert.equal(await me(base, laptop.token), 200);
      const out = await post(base, '/api/logout', { token: laptop.token });
      assert.equal(out.status, 204);
      assert.equal(await laptopChat.closed, 4001, 'the open connection of that session is closed');
      assert.equal(await me(base, laptop.token), 401, 'its token no longer signs in');
      assert.equal(await upgrade(laptop.token), 401);
      // The phone's session goes on, and so does its connection.
      assert.equal(await me(base, phone.token), 200);
      assert.equal(await upgrade(phone.token), 101);
      phoneChat.send({ type: 'chat', room: 'lobby', data: 'still here', cid: 'p1' });
      assert.equal((await phoneChat.next('ack')).cid, 'p1');
      assert.equal(phoneChat.closeCode, undefined);
    } finally {
      await laptopChat.close();
      await phoneChat.close();
    }
  });

  it('logout by cookie ends that session too; without a session it still answers 204', BOUND, async () => {
    const browser = await signIn('register', 'ines');
    assert.equal((await post(base, '/api/logout', { cookie: `parley_session=${browser.token}` })).status, 204);
    assert.equal(await me(base, browser.token), 401);
    assert.equal((await post(base, '/api/logout')).status, 204);
    assert.equal((await post(base, '/api/logout', { token: browser.token })).status, 204, 'a second logout');
  });

  it('a guest\'s logout ends the guest\'s session', BOUND, async () => {
    const answer = await post(base, '/api/guest', { json: { name: 'passer-by' } });
    const token = answer.body.token!;
    const chat = await ChatClient.connect(server.wsUrl, token);
    assert.equal((await post(base, '/api/logout', { token })).status, 204);
    assert.equal(await chat.closed, 4001);
    assert.equal(await upgrade(token), 401);
  });

  it('a password change ends every session of the account and signs in this one anew', BOUND, async () => {
    const laptop = await signIn('register', 'jun', 'first password');
    const phone = await signIn('login', 'jun', 'first password');
    const other = await signIn('register', 'kim');
    const chats = [await ChatClient.connect(server.wsUrl, laptop.token), await ChatClient.connect(server.wsUrl, phone.token)];
    const othersChat = await ChatClient.connect(server.wsUrl, other.token);
    try {
      const changed = await post(base, '/api/password', { token: laptop.token, json: { password: 'first password', newPassword: 'second password' } });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual(changed.body.user, laptop.user);
      assert.ok(changed.setCookie.some((c) => c.startsWith(`parley_session=${changed.body.token};`)), 'the new token as the cookie');
      assert.deepEqual(await Promise.all(chats.map((c) => c.closed)), [4001, 4001]);
      for (const token of [laptop.token, phone.token]) {
        assert.equal(await me(base, token), 401);
        assert.equal(await upgrade(token), 401);
      }
      assert.equal(await me(base, changed.body.token!), 200);
      assert.equal(await upgrade(changed.body.token!), 101);
      assert.equal((await post(base, '/api/login', { json: { name: 'jun', password: 'first password' } })).status, 401);
      await signIn('login', 'jun', 'second password');
      // Someone else's session is none of its business.
      assert.equal(await me(base, other.token), 200);
      assert.equal(othersChat.closeCode, undefined);
    } finally {
      for (const c of [...chats, othersChat]) await c.close();
    }
  });

  it('refuses a password change without a session, for a guest, with a wrong password or a bad new one, and changes nothing', BOUND, async () => {
    const user = await signIn('register', 'lena', 'lenas password');
    const guest = (await post(base, '/api/guest', { json: { name: 'drifter' } })).body.token!;
    const change = (token: string | undefined, json: unknown) => post(base, '/api/password', { token, json });
    const refused: Array<[Answer, number, string]> = [
      [await change(undefined, { password: 'lenas password', newPassword: 'new password' }), 401, 'unauthorized'],
      [await change(guest, { password: 'anything', newPassword: 'new password' }), 403, 'forbidden'],
      [await change(user.token, { password: 'not her password', newPassword: 'new password' }), 403, 'forbidden'],
      [await change(user.token, { password: 'lenas password', newPassword: 'short' }), 400, 'bad_request'],
      [await change(user.token, { password: 'lenas password' }), 400, 'bad_request'],
    ];
    for (const [answer, status, code] of refused) {
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.error?.code, code);
    }
    assert.equal(await me(base, user.token), 200, 'the session goes on');
    await signIn('login', 'lena', 'lenas password');
  });
});

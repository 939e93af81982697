/**
 * Two Parley nodes in this process that share one Redis (broker, presence, sign-in limit) and one
 * database. Until the PostgreSQL store lands, the shared database is one SQLite file opened by
 * both nodes (each with its own store thread): loadConfig refuses REDIS_URL without DATABASE_URL,
 * since nodes on different machines would each have their own file, so the config is completed by
 * hand here. Clients on different nodes chat, see one presence list, get DMs, share the sign-in
 * limit, and lose nothing when Redis restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startParley, type ParleyServer } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import { ChatClient, signInGuest, type Frame } from '../helpers/chat-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { tempDataDir } from '../helpers/server.js';

let redis: TestRedis;
const nodes: ParleyServer[] = [];
let A: { url: string; ws: string };
let B: { url: string; ws: string };

async function startNode(dataDir: string, nodeId: string): Promise<{ url: string; ws: string }> {
  const config = loadConfig(
    {},
    { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: dataDir, NODE_ID: nodeId, SIGNIN_RATE: '10', TRUST_PROXY: '127.0.0.1', PRESENCE_TTL_MS: '2000', PRESENCE_REFRESH_MS: '400', ADMINS: 'root' },
  );
  const server = await startParley({ ...config, redisUrl: redis.url });
  nodes.push(server);
  return { url: `http://127.0.0.1:${server.port}`, ws: `ws://127.0.0.1:${server.port}` };
}

before(async () => {
  redis = await startRedis();
  const dataDir = tempDataDir();
  // One after the other: the first creates the database and the session secret.
  A = await startNode(dataDir, 'node-a');
  B = await startNode(dataDir, 'node-b');
});

after(async () => {
  for (const node of nodes) await node.close();
  await redis.close();
});

const names = (list: Frame) => (list.data as { name: string }[]).map((u) => u.name);

async function until(ready: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await ready())) {
    assert.ok(Date.now() < deadline, `waited 15 s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readyz = async (url: string) => (await fetch(`${url}/readyz`)).status;

describe('two nodes on one Redis', () => {
  it('carries chat, presence, DMs and leaving from one node to the other', async () => {
    const alice = await signInGuest(A.url, 'alice');
    const bob = await signInGuest(B.url, 'bob');
    const a = await ChatClient.connect(A.ws, alice.token);
    const b = await ChatClient.connect(B.ws, bob.token);
    try {
      a.send({ type: 'join', room: 'lobby' });
      assert.deepEqual(names(await a.next('list')), ['alice']);
      b.send({ type: 'join', room: 'lobby' });
      assert.deepEqual(names(await b.next('list')), ['alice', 'bob'], 'a user on the other node is listed');
      assert.equal(((await a.next('join')).user as { name: string }).name, 'bob', 'and hears of a join there');

      a.send({ type: 'chat', room: 'lobby', data: 'from node a', cid: 'a1' });
      const ack = await a.next('ack');
      const got = await b.next('chat');
      assert.equal(got.data, 'from node a');
      assert.equal(got.id, ack.id);
      b.send({ type: 'chat', room: 'lobby', data: 'from node b', cid: 'b1' });
      assert.equal((await a.next('chat', (f) => f.data === 'from node b')).id, (ack.id as number) + 1);

      a.send({ type: 'dm', to: bob.user.id, data: 'psst', cid: 'dm1' });
      const dm = await b.next('chat', (f) => f.data === 'psst');
      assert.match(dm.room as string, /^dm:/, "a DM reaches the user's connection on the other node");

      // A second tab of alice's, on the other node: she is counted once, and stays when it closes.
      const a2 = await ChatClient.connect(B.ws, alice.token);
      a2.send({ type: 'join', room: 'lobby' });
      assert.deepEqual(names(await a2.next('list')), ['alice', 'bob']);
      await a2.close();

      await b.close();
      assert.equal(((await a.next('left')).user as { name: string }).name, 'bob', 'leaving on one node is heard on the other');
      const c = await ChatClient.connect(B.ws, (await signInGuest(B.url, 'cy')).token);
      c.send({ type: 'join', room: 'lobby' });
      assert.deepEqual(names(await c.next('list')), ['alice', 'cy'], "alice is still in (her first tab), bob is not");
      assert.deepEqual(a.all('left').map((f) => (f.user as { name: string }).name), ['bob'], "no left for alice's closed second tab");
      await c.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('tells a user\'s connections on the other node how far they read, and that someone named them', async () => {
    const dora = await signInGuest(A.url, 'dora');
    const emil = await signInGuest(B.url, 'emil');
    const onA = await ChatClient.connect(A.ws, dora.token);
    const onB = await ChatClient.connect(B.ws, dora.token);
    const e = await ChatClient.connect(B.ws, emil.token);
    try {
      onA.send({ type: 'join', room: 'lobby' });
      await onA.next('list');
      e.send({ type: 'chat', room: 'lobby', data: 'hello @dora', cid: 'm' });
      const ack = await e.next('ack');
      const mention = { type: 'mention', room: 'lobby', id: ack.id, user: { id: emil.user.id, name: 'emil', guest: true } };
      assert.deepEqual(await onA.next('mention'), mention, 'through Redis, to the node where she is present');
      assert.deepEqual(await onB.next('mention'), mention);
      onA.send({ type: 'read', room: 'lobby', id: ack.id });
      assert.deepEqual(await onB.next('read'), { type: 'read', room: 'lobby', id: ack.id });
    } finally {
      await Promise.all([onA.close(), onB.close(), e.close()]);
    }
  });

  it('closes the connections of an ended session on the other node: logout ends one, a password change all', { timeout: 20_000 }, async () => {
    // From an address of its own, so that these sign-ins leave the limit of 127.0.0.1 to the others.
    const json = { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.77' };
    const post = async (url: string, path: string, body: object | undefined, token?: string) => {
      const headers: Record<string, string> = token ? { ...json, authorization: `Bearer ${token}` } : json;
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: body && JSON.stringify(body) });
      return { status: res.status, token: res.status === 204 ? '' : ((await res.json()) as { token: string }).token };
    };
    const first = await post(A.url, '/api/register', { name: 'nora', password: 'noras password' });
    const second = await post(A.url, '/api/login', { name: 'nora', password: 'noras password' });
    const third = await post(B.url, '/api/login', { name: 'nora', password: 'noras password' });
    const onB = [await ChatClient.connect(B.ws, first.token), await ChatClient.connect(B.ws, second.token)];
    const onA = await ChatClient.connect(A.ws, third.token);
    try {
      assert.equal((await post(A.url, '/api/logout', undefined, first.token)).status, 204);
      assert.equal(await onB[0]!.closed, 4001, 'logged out on node a, closed on node b');
      // The other sessions' connections stay: this one still chats.
      onB[1]!.send({ type: 'chat', room: 'lobby', data: 'still in', cid: 'n1' });
      assert.equal((await onB[1]!.next('ack')).cid, 'n1');
      const changed = await post(B.url, '/api/password', { password: 'noras password', newPassword: 'noras new password' }, third.token);
      assert.equal(changed.status, 200);
      assert.deepEqual(await Promise.all([onB[1]!.closed, onA.closed]), [4001, 4001], 'every session ended, on both nodes');
    } finally {
      for (const c of [...onB, onA]) await c.close();
    }
  });

  it('applies a mute and a ban made on node a on node b at once, names the banned to the owner there, and closes a user banned everywhere with 4003 on both', { timeout: 20_000 }, async () => {
    // From an address of its own, so that these sign-ins leave the limit of 127.0.0.1 to the others.
    const headers = (token?: string) => ({
      'content-type': 'application/json',
      'x-forwarded-for': '203.0.113.78',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    });
    const call = async (url: string, method: string, path: string, body?: object, token?: string) => {
      const res = await fetch(`${url}${path}`, { method, headers: headers(token), body: body && JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> & { token: string; user: { id: number } } };
    };
    const owner = (await call(A.url, 'POST', '/api/guest', { name: 'warden' })).body;
    const sam = (await call(B.url, 'POST', '/api/guest', { name: 'sam' })).body;
    assert.equal((await call(A.url, 'POST', '/api/rooms', { name: 'guarded' }, owner.token)).status, 201);
    const o = await ChatClient.connect(A.ws, owner.token);
    const s = await ChatClient.connect(B.ws, sam.token);
    const open = [o, s];
    try {
      s.send({ type: 'join', room: 'guarded' });
      await s.next('list');
      s.send({ type: 'chat', room: 'guarded', data: 'before', cid: 's1' });
      await s.next('ack', (f) => f.cid === 's1');

      o.send({ type: 'mute', room: 'guarded', user: sam.user.id, cid: 'm1' });
      await o.next('ack', (f) => f.cid === 'm1');
      assert.equal((await s.next('moderation')).action, 'mute', 'told on node b');
      s.send({ type: 'chat', room: 'guarded', data: 'muted?', cid: 's2' });
      assert.equal((await s.next('error', (f) => f.cid === 's2')).code, 'muted', "node b's cached rules were forgotten");

      o.send({ type: 'ban', room: 'guarded', user: sam.user.id, cid: 'b1' });
      await o.next('ack', (f) => f.cid === 'b1');
      assert.equal((await s.next('banned')).room, 'guarded', 'taken out of the room on node b');
      s.send({ type: 'join', room: 'guarded' });
      assert.equal((await s.next('error')).code, 'banned');
      // A reconnect to either node is refused too.
      for (const node of [B, A]) {
        const again = await ChatClient.connect(node.ws, sam.token);
        open.push(again);
        again.send({ type: 'join', room: 'guarded' });
        assert.equal((await again.next('error')).code, 'banned');
      }
      // The owner, on node b, is told who is banned from the room (node b read its rules again)…
      const samOnWire = { id: sam.user.id, name: 'sam', guest: true };
      const ob = await ChatClient.connect(B.ws, owner.token);
      open.push(ob);
      ob.send({ type: 'join', room: 'guarded' });
      assert.deepEqual((await ob.next('list')).banned, [{ user: samOnWire, until: null }]);
      // …and of the unban made on node a, live; the next list on node b names nobody.
      o.send({ type: 'unban', room: 'guarded', user: sam.user.id, cid: 'u1' });
      await o.next('ack', (f) => f.cid === 'u1');
      assert.deepEqual((await ob.next('moderation')).user, samOnWire);
      const ob2 = await ChatClient.connect(B.ws, owner.token);
      open.push(ob2);
      ob2.send({ type: 'join', room: 'guarded' });
      assert.equal((await ob2.next('list')).banned, undefined);

      // Banned everywhere by an admin on node a: closed with 4003 on both nodes.
      const root = (await call(A.url, 'POST', '/api/register', { name: 'root', password: 'the root password' })).body;
      const tabs = [await ChatClient.connect(A.ws, sam.token), await ChatClient.connect(B.ws, sam.token)];
      open.push(...tabs);
      assert.equal((await call(A.url, 'POST', `/api/users/${sam.user.id}/ban`, undefined, root.token)).status, 200);
      assert.deepEqual(await Promise.all([s.closed, ...tabs.map((t) => t.closed)]), [4003, 4003, 4003]);
      assert.equal((await fetch(`${B.url}/api/me`, { headers: headers(sam.token) })).status, 401);
    } finally {
      for (const c of open) await c.close();
    }
  });

  it('shares the sign-in limit between the nodes', async () => {
    // From an address of its own (the nodes believe X-Forwarded-For from 127.0.0.1), so that the
    // sign-ins of the other tests do not count. SIGNIN_RATE=10: a burst of 10 in all, not 10 per node.
    const status = (url: string, name: string) =>
      fetch(`${url}/api/guest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
        body: JSON.stringify({ name }),
      }).then((r) => r.status);
    const spent: number[] = [];
    for (let i = 0; i < 10; i++) spent.push(await status(i % 2 === 0 ? A.url : B.url, `limited-${i}`));
    assert.deepEqual(spent, Array(10).fill(200), 'the burst, spread over both nodes');
    assert.equal(await status(A.url, 'one-more-a'), 429);
    assert.equal(await status(B.url, 'one-more-b'), 429);
  });

  it('survives a Redis restart: not ready meanwhile, then resyncs every room and puts presence back', async () => {
    const ann = await signInGuest(A.url, 'alice2');
    const bo = await signInGuest(B.url, 'bob2');
    const a = await ChatClient.connect(A.ws, ann.token);
    const b = await ChatClient.connect(B.ws, bo.token);
    try {
      for (const c of [a, b]) {
        c.send({ type: 'join', room: 'lobby' });
        await c.next('list');
      }
      a.send({ type: 'chat', room: 'lobby', data: 'before', cid: 'r1' });
      await b.next('chat', (f) => f.data === 'before');

      await redis.stop();
      await until(async () => (await readyz(A.url)) === 503 && (await readyz(B.url)) === 503, '/readyz to say not ready');
      // Stored, though the broker cannot take it: acked, and node b finds it in the store (catch-up).
      a.send({ type: 'chat', room: 'lobby', data: 'while down', cid: 'r2' });
      const stored = await a.next('ack', (f) => f.cid === 'r2');
      const missed = await b.next('chat', (f) => f.data === 'while down', 10_000);
      assert.equal(missed.id, stored.id);

      await redis.start();
      await until(async () => (await readyz(A.url)) === 200 && (await readyz(B.url)) === 200, '/readyz ready again');
      // A retry (the SDK's, had the ack been lost) is the same message, and nobody gets it twice.
      a.send({ type: 'chat', room: 'lobby', data: 'while down', cid: 'r2' });
      const retried = await a.next('ack', (f) => f.cid === 'r2');
      assert.equal(retried.id, stored.id, 'the retry is the same message');
      a.send({ type: 'chat', room: 'lobby', data: 'after', cid: 'r3' });
      await b.next('chat', (f) => f.data === 'after');
      assert.deepEqual(b.all('chat').map((f) => f.data), ['before', 'while down', 'after'], 'each once, in order');

      const c = await ChatClient.connect(B.ws, (await signInGuest(B.url, 'cy2')).token);
      c.send({ type: 'join', room: 'lobby' });
      assert.deepEqual(names(await c.next('list')), ['alice2', 'bob2', 'cy2'], 'presence is back after Redis lost it');
      await c.close();
    } finally {
      if (!redis.running) await redis.start();
      await a.close();
      await b.close();
    }
  });
});


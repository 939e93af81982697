/**
 * Three nodes on one PostgreSQL and one Redis, behind nginx running deploy/nginx.conf
 * (test/helpers/cluster.ts). Clients are the SDK's ParleyClient, connected through nginx, which
 * spreads them over the nodes; which node each one is on is read from the nodes' /metrics. A
 * message from any node reaches every client once, in order; presence spans the nodes; and when a
 * node is SIGKILLed in the middle of a stream, its clients reconnect through nginx to the others,
 * catch up, and every subscriber has every acked message once, in order, while the users who did
 * not come back leave the presence lists (with `left`) within 15 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRoom, fetchTimeline, ParleyClient, signIn, type ChatMessage } from '../../src/client/index.js';
import { ChatClient, type Frame } from '../helpers/chat-client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';

/** Short, so that a dead node's users leave quickly; the default (15 s) is what the DESIGN promises. */
const PRESENCE_TTL_MS = 3000;
let cluster: Cluster;
/** Every SDK client, closed at the end even when a test fails midway (they would reconnect for ever). */
const clients = new Set<ParleyClient>();

before(async () => {
  cluster = await startCluster({
    nodes: 3,
    settings: { PRESENCE_TTL_MS: String(PRESENCE_TTL_MS), PRESENCE_REFRESH_MS: '500', RATE_LIMIT: '0', SIGNIN_RATE: '0' },
  });
});

after(async () => {
  for (const client of clients) client.close();
  await cluster?.close();
});

async function until(ready: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    assert.ok(Date.now() < deadline, `waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A ParleyClient through nginx, with what it delivered, and the node it landed on. */
interface User {
  name: string;
  client: ParleyClient;
  node: string;
  chats: ChatMessage[];
  lefts: string[];
  states: string[];
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** Signs each name in, then connects them one after the other, noting on which node each landed. */
async function connectUsers(names: string[], room: string): Promise<User[]> {
  const sessions = [];
  for (const name of names) sessions.push(await signIn.guest(cluster.url, name));
  const users: User[] = [];
  for (const [i, name] of names.entries()) {
    const before = await cluster.connections();
    const client = new ParleyClient({ url: cluster.url, token: sessions[i]!.token, reconnect: { minDelayMs: 50, maxDelayMs: 250 } });
    clients.add(client);
    const user: User = { name, client, node: '', chats: [], lefts: [], states: [] };
    client.on('chat', (m) => m.room === room && user.chats.push(m));
    client.on('left', (e) => e.room === room && user.lefts.push(e.user.name));
    client.on('state', (s) => user.states.push(s.state));
    const listed = new Promise<void>((resolve, reject) => {
      client.once('list', () => resolve());
      client.once('error', (e) => reject(new Error(`${name} could not join ${room}: ${e.code} ${e.message}`)));
    });
    client.join(room);
    client.connect();
    await listed;
    let now: Record<string, number> = {};
    await until(async () => total((now = await cluster.connections())) === total(before) + 1, `${name}'s connection to show in /metrics`);
    user.node = Object.keys(now).find((id) => now[id] !== before[id])!;
    users.push(user);
  }
  return users;
}

const memberNames = (user: User, room: string) => user.client.members(room).map((u) => u.name).sort();

/** Every stored message of the room, oldest first, through nginx. */
async function history(room: string, token: string): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  for (;;) {
    const page = await fetchTimeline(cluster.url, room, { after: all.at(-1)?.id ?? 0, limit: 100, token });
    // Nothing here edits, deletes or reacts: the timeline is messages only.
    all.push(...(page.data as ChatMessage[]));
    if (!page.more || page.data.length === 0) return all;
  }
}

describe('three nodes behind nginx', () => {
  it('spreads clients over the nodes; messages and presence reach every node', { timeout: 60_000 }, async () => {
    const names = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'];
    const users = await connectUsers(names, 'lobby');
    try {
      assert.deepEqual(new Set(users.map((u) => u.node)), new Set(['node-1', 'node-2', 'node-3']), 'nginx spread the clients over all three nodes');
      // The last one to join was told everyone, wherever they are; the others heard of each join.
      assert.deepEqual(memberNames(users.at(-1)!, 'lobby'), [...names].sort());
      await until(() => users.every((u) => memberNames(u, 'lobby').join() === [...names].sort().join()), 'every client to list all six users');

      // One sender per node, 20 messages each, all at once.
      const senders = ['node-1', 'node-2', 'node-3'].map((node) => users.find((u) => u.node === node)!);
      const acks = await Promise.all(senders.flatMap((s) => Array.from({ length: 20 }, (_, i) => s.client.send('lobby', `${s.name} ${i}`))));
      assert.deepEqual(acks.map((a) => a.id).sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1), 'ids 1..60, none twice');
      await until(() => users.every((u) => u.chats.length >= 60), 'every client to receive the 60 messages');
      const stored = await history('lobby', (await signIn.guest(cluster.url, 'reader')).token);
      for (const u of users) {
        assert.deepEqual(u.chats.map((m) => [m.id, m.data]), stored.map((m) => [m.id, m.data]), `${u.name} (${u.node}) got each message once, in order`);
      }
      for (const s of senders) {
        const own = stored.filter((m) => m.user.name === s.name).map((m) => m.data);
        assert.deepEqual(own, Array.from({ length: 20 }, (_, i) => `${s.name} ${i}`), `${s.name}'s messages kept their order`);
      }
    } finally {
      for (const u of users) u.client.close();
    }
  });

  it('loses nothing when a node is SIGKILLed mid-stream: its clients move to the other nodes, its lost users leave', { timeout: 60_000 }, async () => {
    const room = 'stream';
    await createRoom(cluster.url, room, { token: (await signIn.guest(cluster.url, 'maker')).token });
    const names = ['gil', 'hal', 'ida', 'jon', 'kim', 'lea'];
    const users = await connectUsers(names, room);
    // Two users who are on node-2 alone and will not come back (raw connections, no reconnect).
    const ghosts: ChatClient[] = [];
    for (const name of ['ghost1', 'ghost2']) {
      const { token } = await signIn.guest(cluster.node(2).url, name);
      const ghost = await ChatClient.connect(cluster.node(2).wsUrl, token);
      ghost.send({ type: 'join', room });
      await ghost.next('list');
      ghosts.push(ghost);
    }
    try {
      const everyone = [...names, 'ghost1', 'ghost2'].sort();
      await until(() => users.every((u) => memberNames(u, room).join() === everyone.join()), 'every client to list all eight users');
      const onNode2 = users.filter((u) => u.node === 'node-2');
      assert.ok(onNode2.length > 0, 'some clients came through nginx to node-2');

      // One publisher per node, each keeping 5 messages in flight, 150 messages each.
      const PER_PUBLISHER = 150;
      const publishers = ['node-1', 'node-2', 'node-3'].map((node) => users.find((u) => u.node === node)!);
      let acked = 0;
      const acks = new Map<number, string>();
      const publish = async (p: User) => {
        const inFlight = new Set<Promise<void>>();
        for (let i = 0; i < PER_PUBLISHER; i++) {
          const text = `${p.name} ${i}`;
          const sent: Promise<void> = p.client.send(room, text).then((ack) => {
            assert.equal(acks.get(ack.id), undefined, `id ${ack.id} acked twice`);
            acks.set(ack.id, text);
            acked++;
            inFlight.delete(sent);
          });
          inFlight.add(sent);
          if (inFlight.size >= 5) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      };
      const publishing = Promise.all(publishers.map(publish));
      const count = PER_PUBLISHER * publishers.length;
      await until(() => acked >= count / 3, 'a third of the messages to be acked', 30_000);
      const ackedAtKill = acked;
      await cluster.node(2).kill();
      await publishing;
      assert.ok(ackedAtKill < count * 0.9, `the kill came in the middle of the stream (${ackedAtKill} of ${count} acked)`);

      assert.deepEqual([...acks.keys()].sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i + 1), 'every message acked, ids 1..N, none stored twice');
      await until(() => users.every((u) => u.chats.length >= count), 'every client to have every message');
      const expected = [...acks.entries()].sort(([a], [b]) => a - b);
      for (const u of users) {
        assert.deepEqual(u.chats.map((m) => [m.id, m.data]), expected, `${u.name} (was on ${u.node}) got every acked message once, in order`);
      }
      const stored = await history(room, (await signIn.guest(cluster.url, 'auditor')).token);
      assert.deepEqual(stored.map((m) => [m.id, m.data]), expected, 'every acked message is in the history');

      for (const u of onNode2) {
        assert.ok(u.states.includes('reconnecting') && u.client.state === 'open', `${u.name} reconnected`);
      }
      const counts = await cluster.connections();
      assert.equal(counts['node-2'], undefined, 'node-2 is down');
      assert.equal(total(counts), users.length, 'every client is connected again, to node-1 or node-3');

      // The ghosts' entries expire PRESENCE_TTL_MS after node-2's last refresh, and someone sweeps them.
      const alive = [...names].sort();
      await until(() => users.every((u) => memberNames(u, room).join() === alive.join()), 'the ghosts to leave every list', 15_000);
      for (const u of users) {
        assert.deepEqual([...u.lefts].sort(), ['ghost1', 'ghost2'], `${u.name} was told once that each ghost left, and of nobody else`);
      }
      const { token } = await signIn.guest(cluster.node(1).url, 'late');
      const late = await ChatClient.connect(cluster.node(1).wsUrl, token);
      late.send({ type: 'join', room });
      const list: Frame = await late.next('list');
      assert.deepEqual((list.data as { name: string }[]).map((u) => u.name).sort(), [...alive, 'late'].sort(), 'a new list names the living only');
      await late.close();

      // node-2 comes back on its port, with its NODE_ID, and serves the room again.
      await cluster.node(2).start();
      const back = await ChatClient.connect(cluster.node(2).wsUrl, (await signIn.guest(cluster.node(2).url, 'back')).token);
      back.send({ type: 'join', room, after: count });
      await back.next('list');
      await publishers[0]!.client.send(room, 'after the restart');
      assert.equal((await back.next('chat')).data, 'after the restart');
      await back.close();
    } finally {
      for (const u of users) u.client.close();
      for (const g of ghosts) await g.close();
    }
  });
});

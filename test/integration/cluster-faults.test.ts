/**
 * Faults of the shared services under a cluster of three nodes (test/helpers/cluster.ts): Redis
 * restarted and PostgreSQL stopped and started in the middle of a stream of messages from
 * publishers on every node, three nodes appending to one room at once, and a message stored by a
 * node that died before publishing it. After each, every subscriber on every node has every acked
 * message exactly once, in id order, and the history has them all. Subscribers and publishers are
 * the SDK's ParleyClient, each connected to one node directly, so that every node serves some.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRoom, fetchTimeline, ParleyClient, signIn, type ChatMessage } from '../../src/client/index.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { ChatClient, type Frame } from '../helpers/chat-client.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { wireUser } from '../../src/protocol/frames.js';

let cluster: Cluster;
const clients = new Set<ParleyClient>();

before(async () => {
  cluster = await startCluster({ nodes: 3, settings: { RATE_LIMIT: '0', SIGNIN_RATE: '0' } });
});

after(async () => {
  for (const client of clients) client.close();
  await cluster?.close();
});

async function until(ready: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    assert.ok(Date.now() < deadline, `waited ${timeoutMs / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Member {
  name: string;
  client: ParleyClient;
  chats: ChatMessage[];
}

/** A user on node `n` (1-3) directly, in `room`, with what it delivered there. */
async function member(name: string, n: number, room: string): Promise<Member> {
  const { token } = await signIn.guest(cluster.node(n).url, name);
  const client = new ParleyClient({ url: cluster.node(n).url, token, reconnect: { minDelayMs: 50, maxDelayMs: 300 }, unavailableRetryMs: 200 });
  clients.add(client);
  const m: Member = { name, client, chats: [] };
  client.on('chat', (c) => c.room === room && m.chats.push(c));
  const listed = new Promise<void>((resolve) => client.once('list', () => resolve()));
  client.join(room);
  client.connect();
  await listed;
  return m;
}

/** Two subscribers and one publisher on each node. */
async function crowd(room: string): Promise<{ subscribers: Member[]; publishers: Member[] }> {
  await createRoom(cluster.url, room, { token: (await signIn.guest(cluster.url, `${room}-maker`)).token });
  const subscribers: Member[] = [];
  const publishers: Member[] = [];
  for (const n of [1, 2, 3]) {
    subscribers.push(await member(`${room}-reader-${n}a`, n, room), await member(`${room}-reader-${n}b`, n, room));
    publishers.push(await member(`${room}-writer-${n}`, n, room));
  }
  return { subscribers, publishers };
}

/**
 * Each publisher sends `count` messages, a few in flight at a time; resolves every ack as id -> text.
 * `midway` runs once a third of them are acked (the fault), while the rest keep going.
 */
async function stream(publishers: Member[], room: string, count: number, midway: () => Promise<void>): Promise<Map<number, string>> {
  const acks = new Map<number, string>();
  const total = count * publishers.length;
  const publish = async (p: Member) => {
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < count; i++) {
      const text = `${p.name} ${i}`;
      const sent: Promise<void> = p.client.send(room, text).then((ack) => {
        assert.equal(acks.get(ack.id), undefined, `id ${ack.id} acked twice`);
        acks.set(ack.id, text);
        inFlight.delete(sent);
      });
      inFlight.add(sent);
      if (inFlight.size >= 5) await Promise.race(inFlight);
      // A steady stream rather than one burst, so that the fault lands in its middle.
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(inFlight);
  };
  const publishing = Promise.all(publishers.map(publish));
  await until(() => acks.size >= total / 3, 'a third of the messages to be acked');
  const ackedBefore = acks.size;
  await midway();
  await publishing;
  assert.ok(ackedBefore < total * 0.9, `the fault came in the middle of the stream (${ackedBefore} of ${total} acked before it)`);
  return acks;
}

/** Every acked message, once, in order, at every subscriber and in the history. */
async function checkDelivery(room: string, acks: Map<number, string>, subscribers: Member[]): Promise<void> {
  const expected = [...acks.entries()].sort(([a], [b]) => a - b);
  assert.deepEqual(
    expected.map(([id]) => id),
    Array.from({ length: expected.length }, (_, i) => i + 1),
    'ids 1..N, each acked once',
  );
  await until(() => subscribers.every((s) => s.chats.length >= expected.length), 'every subscriber to have every message');
  for (const s of subscribers) {
    assert.deepEqual(s.chats.map((m) => [m.id, m.data]), expected, `${s.name} got every acked message once, in order`);
  }
  const stored: ChatMessage[] = [];
  const { token } = await signIn.guest(cluster.url, `${room}-auditor`);
  for (;;) {
    const page = await fetchTimeline(cluster.url, room, { after: stored.at(-1)?.id ?? 0, limit: 100, token });
    // Nothing here edits, deletes or reacts: the timeline is messages only.
    stored.push(...(page.data as ChatMessage[]));
    if (!page.more || page.data.length === 0) break;
  }
  assert.deepEqual(stored.map((m) => [m.id, m.data]), expected, 'the history has every acked message');
}

function closeAll(members: Member[]): void {
  for (const m of members) {
    m.client.close();
    clients.delete(m.client);
  }
}

describe('three nodes when the shared services fail', () => {
  it('loses and repeats nothing when Redis restarts in the middle of a stream', { timeout: 120_000 }, async () => {
    const room = 'redis-restart';
    const { subscribers, publishers } = await crowd(room);
    try {
      const acks = await stream(publishers, room, 120, async () => {
        await cluster.redis.stop();
        await new Promise((r) => setTimeout(r, 1500));
        await cluster.redis.start();
        await cluster.waitUntilReady();
      });
      await checkDelivery(room, acks, [...subscribers, ...publishers]);
    } finally {
      closeAll([...subscribers, ...publishers]);
    }
  });

  it('loses and repeats nothing when PostgreSQL stops and starts in the middle of a stream', { timeout: 120_000 }, async () => {
    const room = 'postgres-restart';
    const { subscribers, publishers } = await crowd(room);
    const refusals: string[] = [];
    for (const p of publishers) p.client.on('error', (e) => refusals.push(e.code));
    try {
      const acks = await stream(publishers, room, 120, async () => {
        await cluster.postgres.stop();
        await new Promise((r) => setTimeout(r, 2000));
        await cluster.postgres.start();
        await cluster.waitUntilReady();
      });
      await checkDelivery(room, acks, [...subscribers, ...publishers]);
    } finally {
      closeAll([...subscribers, ...publishers]);
    }
  });

  it('numbers a room 1..N with none twice or missing when three nodes append to it at once', { timeout: 60_000 }, async () => {
    const room = 'three-writers';
    await createRoom(cluster.url, room, { token: (await signIn.guest(cluster.url, 'tw-maker')).token });
    const writers = await Promise.all(
      [1, 2, 3].map(async (n) => ChatClient.connect(cluster.node(n).wsUrl, (await signIn.guest(cluster.node(n).url, `tw-${n}`)).token)),
    );
    try {
      const PER_WRITER = 300;
      // Each writer sends everything at once: the three nodes' batches land in the room together.
      for (const [w, writer] of writers.entries()) {
        for (let i = 0; i < PER_WRITER; i++) writer.send({ type: 'chat', room, data: `w${w} ${i}`, cid: `w${w}-${i}` });
      }
      const ids: number[] = [];
      for (const writer of writers) {
        await until(() => writer.all('ack').length === PER_WRITER, 'every ack', 30_000);
        const acked = writer.all('ack').map((f: Frame) => f.id as number);
        assert.deepEqual(acked, [...acked].sort((a, b) => a - b), "a writer's messages keep their order");
        ids.push(...acked);
      }
      assert.deepEqual(ids.sort((a, b) => a - b), Array.from({ length: PER_WRITER * 3 }, (_, i) => i + 1), 'ids 1..N, none twice, none missing');
    } finally {
      await Promise.all(writers.map((w) => w.close()));
    }
  });

  it('delivers within 3 s a message stored by a node that died before publishing it, though nothing follows it', { timeout: 60_000 }, async () => {
    const room = 'never-published';
    const maker = await signIn.guest(cluster.url, 'np-maker');
    await createRoom(cluster.url, room, { token: maker.token });
    const readers = [await member('np-1', 1, room), await member('np-2', 2, room), await member('np-3', 3, room)];
    const store = await PostgresStore.open(cluster.databaseUrl);
    try {
      // What a node does before it publishes: store the message. Then it "dies": nothing is published.
      const [stored] = await store.appendMessages([{ room, user: wireUser(maker.user), data: 'stored, never published', ts: Date.now() }]);
      const at = Date.now();
      await until(() => readers.every((r) => r.chats.length === 1), 'every node to deliver the message from the store', 4000);
      const waited = Date.now() - at;
      for (const r of readers) assert.deepEqual(r.chats.map((m) => [m.id, m.data]), [[stored!.message!.id, 'stored, never published']]);
      assert.ok(waited < 3500, `found in ${waited} ms`);
    } finally {
      await store.close();
      closeAll(readers);
    }
  });
});

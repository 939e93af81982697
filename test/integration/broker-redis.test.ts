/**
 * The Redis broker, presence and sign-in limit against a real Redis (a throw-away redis-server on
 * a free port): the contracts every implementation passes, with several nodes (several handles on
 * one Redis), and what only a networked one has to survive: a node that dies, and Redis restarting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@redis/client';
import { pino } from 'pino';
import { RedisPresence } from '../../src/broker/redis-presence.js';
import { RedisSignInLimiter } from '../../src/broker/redis-sign-in-limiter.js';
import { RedisBroker } from '../../src/broker/redis.js';
import { BrokerUnavailableError, type PresenceUser } from '../../src/broker/types.js';
import { chat, Received, runBrokerContract } from '../broker-contract.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { runPresenceContract } from '../presence-contract.js';

const silent = pino({ level: 'silent' });
let redis: TestRedis;

before(async () => {
  redis = await startRedis();
});
after(() => redis.close());

/** Empties Redis: each test starts from nothing, as after a restart. */
async function flush(): Promise<void> {
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.flushAll();
  client.destroy();
}

/**
 * Presence timings short enough for tests: a dead node's entries expire after 2 s. A live node
 * refreshes every 0.4 s, so only an event loop stalled for 1.6 s would lose its entries.
 */
const FAST = { ttlMs: 2000, refreshMs: 400 };

async function openPresences(count: number, options = FAST): Promise<RedisPresence[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => RedisPresence.connect(redis.url, `node-${i}`, { ...options, logger: silent })));
}

/** Resolves once `ready()` resolves true; fails if that takes over `ms`. */
async function until(ready: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    assert.ok(Date.now() < deadline, `waited ${ms} ms for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

runBrokerContract(
  'RedisBroker',
  async (count) => {
    await flush();
    const brokers = await Promise.all(Array.from({ length: count }, () => RedisBroker.connect(redis.url, silent)));
    return { brokers, cleanup: async () => void (await Promise.all(brokers.map((b) => b.close()))) };
  },
  { nodes: 3 },
);

runPresenceContract(
  'RedisPresence',
  async (count) => {
    await flush();
    const presences = await openPresences(count);
    return { presences, cleanup: async () => void (await Promise.all(presences.map((p) => p.close()))) };
  },
  { nodes: 2 },
);

describe('Redis presence across nodes', () => {
  it("removes a dead node's users within the TTL, each departure reported once, by one surviving node", async () => {
    await flush();
    const [dying, b, c] = await openPresences(3);
    const departures: { node: string; room: string; user: PresenceUser }[] = [];
    for (const p of [dying!, b!, c!]) p.onExpired((room, user) => departures.push({ node: p.nodeId, room, user }));
    try {
      const only = { id: 11, name: 'only on the dying node' };
      const both = { id: 12, name: 'also on b' };
      const tabs = { id: 13, name: 'two tabs on the dying node' };
      await dying!.add('lobby', only, 'o1');
      await dying!.add('lobby', both, 'x1');
      await b!.add('lobby', both, 'x2');
      await dying!.add('lobby', tabs, 't1');
      await dying!.add('lobby', tabs, 't2');
      await dying!.add('other', only, 'o1');
      await c!.add('other', { id: 14, name: 'on c' }, 'c1');
      dying!.abandon();
      // Its entries expire at most a TTL after its last refresh, which came before it died.
      const gone = async () => (await b!.list('lobby')).length === 1 && (await c!.list('other')).length === 1;
      await until(gone, "the dead node's users to be gone within the TTL", FAST.ttlMs + 1000);
      assert.deepEqual(await c!.list('lobby'), [both], 'the user with a tab on a live node stays');
      assert.deepEqual(await b!.list('other'), [{ id: 14, name: 'on c' }]);
      await until(() => departures.length >= 3, 'three departures');
      // Sweeps to come would find nothing more: wait for one full TTL more to be sure none repeats.
      await new Promise((r) => setTimeout(r, FAST.ttlMs));
      const seen = departures.map((d) => `${d.room}/${d.user.id}`).sort();
      assert.deepEqual(seen, ['lobby/11', 'lobby/13', 'other/11'], 'each user who left, once (not the one still on b)');
      assert.ok(departures.every((d) => d.node !== 'node-0'), 'reported by the surviving nodes');
      assert.deepEqual(departures.find((d) => d.user.id === 13)?.user, tabs, 'with the name they had');
      assert.equal(await b!.remove('lobby', both, 'x2'), true, 'the last live tab leaves as usual');
    } finally {
      await Promise.all([b!.close(), c!.close()]);
    }
  });

  it('keeps the users of a node that is alive and refreshing, over many TTLs', async () => {
    await flush();
    const [a, b] = await openPresences(2);
    let expired = 0;
    for (const p of [a!, b!]) p.onExpired(() => expired++);
    try {
      await a!.add('r', { id: 1, name: 'ann' }, 'c1');
      await new Promise((r) => setTimeout(r, FAST.ttlMs * 2));
      assert.deepEqual(await b!.list('r'), [{ id: 1, name: 'ann' }]);
      assert.equal(expired, 0);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('puts every live entry back after Redis restarts empty, and keeps working', async () => {
    await flush();
    const [a, b] = await openPresences(2);
    try {
      await a!.add('r', { id: 1, name: 'ann' }, 'c1');
      await b!.add('r', { id: 2, name: 'bo' }, 'c2');
      await b!.add('s', { id: 2, name: 'bo' }, 'c2');
      await redis.stop();
      await until(async () => !(await a!.ping()), 'ping to say Redis is down');
      await assert.rejects(a!.list('r'), 'list fails while Redis is down');
      await assert.rejects(a!.add('r', { id: 3, name: 'cy' }, 'c3'), 'so does add, but the entry is kept on the node');
      await redis.start();
      await until(async () => (await a!.list('r').catch(() => [])).length === 3, 'the entries back in Redis');
      assert.deepEqual(await b!.list('r'), [{ id: 1, name: 'ann' }, { id: 2, name: 'bo' }, { id: 3, name: 'cy' }]);
      assert.deepEqual(await a!.list('s'), [{ id: 2, name: 'bo' }]);
      assert.equal(await a!.remove('r', { id: 3, name: 'cy' }, 'c3'), true, 'the entry added while Redis was down leaves normally');
      assert.equal(await b!.add('r', { id: 1, name: 'ann' }, 'c9'), false, 'ann is still counted as in the room');
    } finally {
      if (!redis.running) await redis.start();
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});

describe('Redis broker when Redis goes away', () => {
  it('refuses publishes while Redis is down, then subscribes again to everything and resyncs once', async () => {
    await flush();
    const a = await RedisBroker.connect(redis.url, silent);
    const b = await RedisBroker.connect(redis.url, silent);
    const [gotA, gotB] = [new Received(a), new Received(b)];
    try {
      await a.subscribe('lobby');
      await a.subscribe('user:1');
      await a.subscribe('left-while-down');
      await b.subscribe('lobby');
      await b.publish('lobby', chat('lobby', 'before'));
      await gotA.until(() => gotA.events.length === 1, 'the first event');

      await redis.stop();
      await until(async () => !(await a.ping()), 'ping to say Redis is down');
      await assert.rejects(Promise.resolve(a.publish('lobby', chat('lobby', 'lost'))), (err) => err instanceof BrokerUnavailableError && err.code === 'unavailable');
      await a.unsubscribe('left-while-down');
      await assert.rejects(a.subscribe('new-while-down'), BrokerUnavailableError);

      await redis.start();
      await gotA.until(() => gotA.resyncs === 1 && gotB.resyncs === 1, 'both nodes to resync');
      await until(async () => (await a.ping()) && (await b.ping()), 'ping to say Redis is back, on both nodes');
      const after = chat('lobby', 'after');
      await b.publish('lobby', after);
      const dm = chat('dm:1:2', 'dm after');
      await b.publish('user:1', dm);
      await b.publish('left-while-down', chat('left-while-down', 'not followed any more'));
      await b.publish('new-while-down', chat('new-while-down', 'never subscribed'));
      await gotA.until(() => gotA.events.length >= 3, 'the events after the restart');
      assert.deepEqual(gotA.on('lobby').map((e) => e.kind === 'chat' && e.message.kind === undefined && e.message.data), ['before', 'after']);
      assert.deepEqual(gotA.on('user:1'), [dm]);
      // A last event on a followed channel: anything on the others would have come before it.
      await b.publish('lobby', chat('lobby', 'last'));
      await gotA.until(() => gotA.on('lobby').length === 3, 'the last event');
      assert.deepEqual(gotA.on('left-while-down'), []);
      assert.deepEqual(gotA.on('new-while-down'), []);
      assert.equal(gotA.resyncs, 1, 'one resync for one recovery');
    } finally {
      if (!redis.running) await redis.start();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('logs a Redis outage in a few lines, not one per retry, and says when it is back', async () => {
    await flush();
    const logs = captureLogs('info');
    const broker = await RedisBroker.connect(redis.url, logs.logger);
    new Received(broker);
    try {
      await redis.stop();
      // Long enough for node-redis to retry many times (every 50 ms at first, then up to 2 s).
      await new Promise((r) => setTimeout(r, 3000));
      await redis.start();
      await until(() => broker.ping(), 'Redis back');
      const records = logs.records();
      const errors = records.filter((r) => r.msg === 'redis connection error');
      assert.ok(errors.length >= 1 && errors.length <= 2, `one error line per connection, not one per retry (${errors.length})`);
      assert.ok(records.some((r) => r.msg === 'redis connection back' && r.role === 'subscribe'));
    } finally {
      if (!redis.running) await redis.start();
      await broker.close();
    }
  });

  it('answers ping false at once when Redis is down, and never hangs', async () => {
    await flush();
    const broker = await RedisBroker.connect(redis.url, silent);
    try {
      await redis.stop();
      await until(async () => (await broker.ping()) === false, 'ping false', 2000);
    } finally {
      await redis.start();
      await broker.close();
    }
  });
});

describe('Redis sign-in limit', () => {
  it('is shared by every node: attempts on one count on the other', async () => {
    await flush();
    const options = { burst: 3, perMinute: 3, logger: silent };
    const a = await RedisSignInLimiter.connect(redis.url, options);
    const b = await RedisSignInLimiter.connect(redis.url, options);
    try {
      assert.equal(await a.take('198.51.100.7'), 0);
      assert.equal(await b.take('198.51.100.7'), 0);
      assert.equal(await a.take('198.51.100.7'), 0);
      const wait = await b.take('198.51.100.7');
      assert.ok(wait > 0 && wait <= 20_000, `the fourth attempt, on the other node, waits for one to be regained (${wait} ms)`);
      assert.ok((await a.take('198.51.100.7')) > 0, 'and so does the next, on the first');
      assert.equal(await a.take('2001:db8::/64'), 0, 'other addresses are not held back');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('regains attempts at the rate, the same as the in-process limit', async () => {
    await flush();
    const limiter = await RedisSignInLimiter.connect(redis.url, { burst: 1, perMinute: 600, logger: silent });
    try {
      assert.equal(await limiter.take('k'), 0);
      const wait = await limiter.take('k');
      assert.ok(wait > 0 && wait <= 100, `one attempt per 100 ms (${wait} ms)`);
      await new Promise((r) => setTimeout(r, wait + 5));
      assert.equal(await limiter.take('k'), 0, 'allowed again once the wait is over');
    } finally {
      await limiter.close();
    }
  });

  it('lets sign-ins through while Redis is down, with a warning, and limits again when it is back', async () => {
    await flush();
    const logs = captureLogs('warn');
    const limiter = await RedisSignInLimiter.connect(redis.url, { burst: 1, perMinute: 1, logger: logs.logger });
    try {
      assert.equal(await limiter.take('k'), 0);
      assert.ok((await limiter.take('k')) > 0);
      await redis.stop();
      for (let i = 0; i < 5; i++) assert.equal(await limiter.take('k'), 0, 'fails open');
      assert.equal(logs.records().filter((r) => /not rate limited/.test(r.msg)).length, 1, 'one warning, not one per attempt');
      await redis.start();
      await until(async () => (await limiter.take('k2')) === 0 && (await limiter.take('k2')) > 0, 'limits again');
    } finally {
      if (!redis.running) await redis.start();
      await limiter.close();
    }
  });
});

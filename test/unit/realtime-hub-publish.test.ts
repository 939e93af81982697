import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { LocalPresence } from '../../src/broker/local-presence.js';
import { LocalBroker } from '../../src/broker/local.js';
import type { RoomEvent } from '../../src/broker/types.js';
import { createMetrics } from '../../src/metrics.js';
import { ChatHub } from '../../src/realtime/hub.js';
import { wireUser } from '../../src/protocol/frames.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

/** An in-process broker that cannot deliver one room's events. */
class BrokenForRoom extends LocalBroker {
  constructor(private readonly broken: string) {
    super();
  }

  override publish(room: string, event: RoomEvent): void {
    if (room === this.broken) throw new Error(`cannot deliver to ${room}`);
    super.publish(room, event);
  }
}

test('a stored message the broker cannot deliver is still acked, counted, and does not hold up the others of its batch', async () => {
  const store = await SqliteStore.open(':memory:');
  const metrics = createMetrics();
  const hub = new ChatHub({
    store,
    broker: new BrokenForRoom('b'),
    presence: new LocalPresence('test'),
    logger: pino({ level: 'silent' }),
    metrics,
    options: { maxText: 4000, rateLimit: 0, slowReaderBytes: 1 << 20, heartbeatMs: 30_000, historyKeep: 0, catchUpMs: 0 },
  });
  try {
    const user = wireUser(await store.createUser({ name: 'Ann', passwordHash: null, guest: true }));
    for (const name of ['a', 'b']) await store.createRoom({ name, private: false, createdBy: null });
    // Published in one turn, so they are stored in one batch.
    const outcomes = await Promise.allSettled([
      hub.publish(user, 'a', 'one'),
      hub.publish(user, 'b', 'lost'),
      hub.publish(user, 'a', 'two'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? `${o.value.message.room} ${o.value.message.id}` : String(o.reason))),
      ['a 1', 'b 1', 'a 2'],
    );
    assert.match(await metrics.registry.metrics(), /parley_broker_publish_failures_total 1/);
  } finally {
    await hub.close();
    await store.close();
  }
});

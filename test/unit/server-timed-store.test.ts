import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/metrics.js';
import { timedStore } from '../../src/server/timed-store.js';
import { WorkerStore } from '../../src/store/sqlite/worker-store.js';

test('a timed store answers as the store does, times each call by method, and closes', async () => {
  const metrics = createMetrics('n1');
  // A WorkerStore keeps its state in #private fields: each call must reach it as itself.
  const store = timedStore(await WorkerStore.open(':memory:'), metrics.storeSeconds);
  await store.createRoom({ name: 'r', private: false, createdBy: null });
  assert.equal((await store.getRoom('r'))?.name, 'r');
  assert.equal(await store.getRoom('nowhere'), undefined);
  await assert.rejects(store.createRoom({ name: 'r', private: false, createdBy: null }), /exists/);
  const text = await metrics.registry.metrics();
  assert.match(text, /parley_store_seconds_count\{method="getRoom"\} 2/);
  assert.match(text, /parley_store_seconds_count\{method="createRoom"\} 2/);
  assert.match(text, /parley_node_info\{node="n1"\} 1/);
  await store.close();
  assert.equal(await store.ping(), false);
});

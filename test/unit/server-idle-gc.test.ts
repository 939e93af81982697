import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { IDLE_COLLECTOR_DEFAULTS, shouldCollect, startIdleCollector, type IdleCollectorOptions } from '../../src/server/idle-gc.js';

const MB = 2 ** 20;

test('collects only when the loop is idle and the heap grew by a burst', () => {
  const o = IDLE_COLLECTOR_DEFAULTS;
  assert.equal(shouldCollect(0.01, 100 * MB, 50 * MB, o), true);
  assert.equal(shouldCollect(0.5, 100 * MB, 50 * MB, o), false, 'busy');
  assert.equal(shouldCollect(0.01, 60 * MB, 50 * MB, o), false, 'grew too little');
  assert.equal(shouldCollect(0.01, 1000 * MB, 800 * MB, o), false, 'a big heap must grow by half to pause for it');
  assert.equal(shouldCollect(0.01, 1200 * MB, 800 * MB, o), true);
});

/** Objects that live long enough to be promoted, then are dropped: what a burst of connections leaves. */
function burstOfGarbage(megabytes: number): number {
  const kept: unknown[] = [];
  for (let i = 0; i < megabytes * 2000; i++) kept.push({ id: i, name: `user ${i}`, rooms: [i, i + 1, i + 2] });
  // Unreachable once this returns.
  return kept.length;
}

test('shrinks the heap after a burst once the loop is idle, and not while it is busy', async () => {
  const collections: { heapBefore: number; heapAfter: number }[] = [];
  const options: IdleCollectorOptions = {
    intervalMs: 50,
    idleUtilization: 0.05,
    growthBytes: 16 * MB,
    growthRatio: 0.5,
    onCollect: (c) => collections.push(c),
  };
  const collector = startIdleCollector(options);
  try {
    const before = getHeapStatistics().total_heap_size;
    burstOfGarbage(64);
    assert.ok(getHeapStatistics().total_heap_size - before >= 16 * MB, 'the burst grew the heap');

    // Busy: the loop works about half of each interval.
    const busyUntil = Date.now() + 600;
    while (Date.now() < busyUntil) {
      const spin = Date.now() + 25;
      while (Date.now() < spin);
      await sleep(25);
    }
    assert.equal(collections.length, 0, 'no collection while the loop is busy');

    // Idle: collected within a few intervals.
    for (let i = 0; i < 100 && collections.length === 0; i++) await sleep(50);
    assert.equal(collections.length, 1);
    const { heapBefore, heapAfter } = collections[0]!;
    assert.ok(heapBefore - heapAfter >= 16 * MB, `the heap shrank from ${heapBefore / MB} MB to ${heapAfter / MB} MB`);

    // Nothing new to collect: it stays quiet.
    await sleep(300);
    assert.equal(collections.length, 1);
  } finally {
    collector.stop();
  }
});

/**
 * Gives memory back when the server goes idle after a burst, as browsers collect garbage in idle
 * time. A storm of connections (every client reconnecting after a restart) leaves tens of MB of
 * garbage in the heap; V8's own memory reducer shrinks the heap only tens of seconds later, so until
 * then an idle server holds about twice what its connections need. Here, once the event loop has
 * been nearly idle for a whole interval and the heap has grown by a burst's worth (32 MB, and half
 * its size after the last collection), the heap is collected and shrunk at once: a pause (0.1 s
 * for a heap of 124 MB after 10,000 connections) that nobody is waiting on.
 */
import { createRequire } from 'node:module';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export interface IdleCollectorOptions {
  /** How often the event loop is looked at. */
  intervalMs: number;
  /** Below this share of the last interval spent working, the loop counts as idle. */
  idleUtilization: number;
  /** Growth of the heap since the last collection (or the smallest heap seen) worth collecting... */
  growthBytes: number;
  /**
   * ...and the same as a share of the heap then: a big heap's full collection pauses longer, so it
   * must have grown more to be worth one.
   */
  growthRatio: number;
  /** Told after each collection: how long it took, and the heap's size before and after. */
  onCollect?: (info: { ms: number; heapBefore: number; heapAfter: number }) => void;
}

export const IDLE_COLLECTOR_DEFAULTS: IdleCollectorOptions = {
  intervalMs: 1000,
  idleUtilization: 0.05,
  growthBytes: 32 * 2 ** 20,
  growthRatio: 0.5,
};

/** Whether to collect now; the rest of the collector is the clock and V8. */
export function shouldCollect(utilization: number, heapBytes: number, floorBytes: number, options: IdleCollectorOptions): boolean {
  const growth = heapBytes - floorBytes;
  return utilization < options.idleUtilization && growth >= options.growthBytes && growth >= floorBytes * options.growthRatio;
}

/**
 * A full collection that also shrinks the heap. V8's gc() (--expose-gc) collects but keeps the
 * pages, so the resident size does not move; the inspector's collectGarbage does what V8 does under
 * memory pressure. The session is in-process: it opens no port.
 */
function heapShrinker(): { collect(done: () => void): void; close(): void } | undefined {
  try {
    // Required here: on a Node built without the inspector, loading it throws.
    const { Session } = createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
    const session = new Session();
    session.connect();
    return {
      collect: (done) => session.post('HeapProfiler.collectGarbage', () => done()),
      close: () => session.disconnect(),
    };
  } catch {
    // Without the inspector: leave it to V8.
    return undefined;
  }
}

/** Starts the collector; stop() ends it. Without the inspector it does nothing. */
export function startIdleCollector(options: IdleCollectorOptions = IDLE_COLLECTOR_DEFAULTS): { stop(): void } {
  const shrinker = heapShrinker();
  if (!shrinker) return { stop: () => {} };
  const heapSize = () => getHeapStatistics().total_heap_size;
  let floor = heapSize();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  let collecting = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (collecting) return;
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    const before = heapSize();
    // V8 may have shrunk the heap by itself: growth counts from the smallest heap seen since.
    if (before < floor) floor = before;
    if (!shouldCollect(utilization, before, floor, options)) return;
    collecting = true;
    const start = performance.now();
    shrinker.collect(() => {
      collecting = false;
      if (stopped) return;
      floor = heapSize();
      // The collection is the collector's own work, not a sign that the server got busy.
      last = performance.eventLoopUtilization();
      options.onCollect?.({ ms: performance.now() - start, heapBefore: before, heapAfter: floor });
    });
  }, options.intervalMs);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      shrinker.close();
    },
  };
}

/**
 * A Store whose every call is timed into parley_store_seconds{method}: one wrapper for every
 * implementation, so that a dashboard compares SQLite and PostgreSQL by the same figures.
 */
import type { Histogram } from 'prom-client';
import type { Store } from '../store/types.js';

export function timedStore(store: Store, seconds: Histogram<'method'>): Store {
  const timers = new Map<PropertyKey, (...args: unknown[]) => unknown>();
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      let timed = timers.get(key);
      if (!timed) {
        const labels = { method: String(key) };
        const method = value as (...args: unknown[]) => Promise<unknown>;
        // Called on the store itself: implementations keep their state in #private fields.
        timed = (...args: unknown[]) => {
          const end = seconds.startTimer(labels);
          const done = () => void end();
          const result = method.apply(target, args);
          result.then(done, done);
          return result;
        };
        timers.set(key, timed);
      }
      return timed;
    },
  });
}

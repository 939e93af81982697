/**
 * What every Redis connection of a node shares: options that fail fast while Redis is unreachable
 * and reconnect by themselves, errors logged without flooding the log, a bounded wait for the first
 * connection, and a bounded close.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { RedisClientOptions } from '@redis/client';

/** How long a node waits at start for Redis before it gives up with an error. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a ping waits for PONG before it says Redis does not answer (for /readyz). */
const PING_TIMEOUT_MS = 1000;
/** One error line per connection per this many milliseconds while Redis stays unreachable. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/** The options of every Parley connection to Redis at `url`. */
export function redisOptions(url: string): RedisClientOptions {
  return {
    url,
    // A command while the connection is down is refused at once rather than queued until it is back:
    // a publish must fail for its sender to retry, and /readyz must not hang.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      // Retry quickly at first, then every 2 s, with jitter so that nodes do not come back in step.
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
    },
  };
}

/** A Redis connection, as far as this module needs to know it. */
export interface RedisConnection extends EventEmitter {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  readonly isReady: boolean;
  ping(): Promise<string>;
}

/** Host and port of a Redis URL, without the password it may hold. */
export function redisAddress(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return 'redis';
  }
}

/**
 * A warning that repeats while Redis is down, logged at most once per ERROR_LOG_INTERVAL_MS with
 * how many were left out since the last line.
 */
export function throttledWarning(log: Logger, message: string): { warn(err: unknown): void; reset(): number } {
  let lastLogged = -Infinity;
  let suppressed = 0;
  return {
    warn(err) {
      const now = Date.now();
      if (now - lastLogged < ERROR_LOG_INTERVAL_MS) {
        suppressed++;
        return;
      }
      log.warn({ err, suppressed }, message);
      lastLogged = now;
      suppressed = 0;
    },
    /** Starts over (Redis is back); returns how many were left out. */
    reset() {
      const left = suppressed;
      lastLogged = -Infinity;
      suppressed = 0;
      return left;
    },
  };
}

/**
 * Logs the connection's errors (throttled) and its recoveries; without an 'error' listener an
 * error would end the process. Calls `onRecovered` each time the connection is ready again after
 * it was lost.
 */
export function watchConnection(client: RedisConnection, logger: Logger, role: string, onRecovered?: () => void): void {
  const log = logger.child({ component: 'redis', role });
  const errors = throttledWarning(log, 'redis connection error');
  let lost = false;
  let everReady = false;
  client.on('error', (err: unknown) => {
    if (everReady) lost = true;
    errors.warn(err);
  });
  client.on('reconnecting', () => {
    if (everReady) lost = true;
  });
  client.on('ready', () => {
    everReady = true;
    if (!lost) return;
    lost = false;
    log.info({ suppressed: errors.reset() }, 'redis connection back');
    onRecovered?.();
  });
}

/** Connects, or gives up after CONNECT_TIMEOUT_MS with an error that names the address. */
export async function connectOrFail(client: RedisConnection, url: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cannot reach Redis at ${redisAddress(url)} (REDIS_URL) within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } catch (err) {
    client.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Closes the connection after its pending commands, or drops it if that takes over a second. */
export async function closeConnection(client: RedisConnection): Promise<void> {
  const closed = client.close().catch(() => {});
  const timer = setTimeout(() => client.destroy(), 1000);
  await closed;
  clearTimeout(timer);
}

/** Whether the connection is up and Redis answers PING within a second: false at once while it is down. */
export async function answers(client: RedisConnection): Promise<boolean> {
  if (!client.isReady) return false;
  try {
    return (await within(client.ping(), PING_TIMEOUT_MS)) === 'PONG';
  } catch {
    return false;
  }
}

/** Resolves `promise`, or rejects after `ms` milliseconds, whichever comes first. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

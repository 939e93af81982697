/**
 * Picks the Store, Broker, Presence and sign-in limit implementations from the config. This is
 * the only place that knows which are in use: the rest of the server sees the interfaces.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LocalPresence } from '../broker/local-presence.js';
import { LocalBroker } from '../broker/local.js';
import { RedisPresence } from '../broker/redis-presence.js';
import { RedisSignInLimiter } from '../broker/redis-sign-in-limiter.js';
import { RedisBroker } from '../broker/redis.js';
import type { Broker, Presence, SignInLimiter } from '../broker/types.js';
import { LocalSignInLimiter } from '../http/rate-limit.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { DB_FILE } from '../store/sqlite/sqlite-store.js';
import { WorkerStore } from '../store/sqlite/worker-store.js';
import type { Store } from '../store/types.js';
import type { Config } from './config.js';

export interface StoreOptions {
  logger: Logger;
  /** Called if the store can no longer work at all (its thread died). */
  onFatal?: (err: Error) => void;
}

/** The store the config asks for: PostgreSQL with DATABASE_URL, else SQLite in the data dir (the default). */
export async function createStore(config: Config, options: StoreOptions): Promise<Store> {
  if (config.databaseUrl) {
    // While PostgreSQL is away the store rejects calls with StoreUnavailableError and reconnects
    // by itself: nothing fatal. A connection it drops is worth a line in the log.
    const store = await PostgresStore.open(config.databaseUrl, {
      // The message and code only: pg's errors carry their connection, with its every statement.
      onConnectionError: (err) =>
        options.logger.warn({ error: err.message, code: (err as { code?: unknown }).code }, 'lost a PostgreSQL connection; the pool opens a new one when needed'),
    });
    // Messages stored before search existed get their search keys now, without holding up the start.
    store.indexOlderMessages().then(
      (count) => count > 0 && options.logger.info({ count }, 'indexed older messages for search'),
      (err: unknown) => options.logger.warn({ err }, 'could not index older messages for search; the next start tries again'),
    );
    return store;
  }
  return WorkerStore.open(join(config.dataDir, DB_FILE), {
    onFailure: (err) => {
      options.logger.fatal({ err }, 'the store thread died: messages can no longer be stored');
      options.onFatal?.(err);
    },
  });
}

/** The broker and presence the config asks for: Redis with REDIS_URL, else in-process. */
export async function createBroker(config: Config, logger: Logger): Promise<{ broker: Broker; presence: Presence }> {
  if (!config.redisUrl) return { broker: new LocalBroker(), presence: new LocalPresence(config.nodeId) };
  const broker = await RedisBroker.connect(config.redisUrl, logger);
  try {
    const presence = await RedisPresence.connect(config.redisUrl, config.nodeId, {
      ttlMs: config.presenceTtlMs,
      refreshMs: config.presenceRefreshMs,
      logger,
    });
    return { broker, presence };
  } catch (err) {
    await broker.close();
    throw err;
  }
}

/** The sign-in limit: shared in Redis with REDIS_URL (unless SIGNIN_RATE=0), else in this process. */
export async function createSignInLimiter(config: Config, logger: Logger): Promise<SignInLimiter> {
  const rate = config.signInRate;
  if (!config.redisUrl || rate === 0) return new LocalSignInLimiter({ burst: rate, perMinute: rate });
  return RedisSignInLimiter.connect(config.redisUrl, { burst: rate, perMinute: rate, logger });
}

/** Which implementations a config picks, for the start-up log and /readyz. */
export function backendNames(config: Config): { store: string; broker: string } {
  return { store: config.databaseUrl ? 'postgres' : 'sqlite', broker: config.redisUrl ? 'redis' : 'local' };
}

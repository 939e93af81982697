/**
 * The sign-in rate limit shared by every node, in Redis: per key, the generic cell rate algorithm
 * (GCRA), which keeps one number per key (the time at which its bucket would be full again) and
 * behaves as the token bucket of http/rate-limit.ts does. One Lua script per attempt, on Redis's
 * clock. While Redis cannot be reached it lets everyone in (with a warning in the log): a limit
 * that locked every user out because Redis is down would be worse than none for a while.
 */
import type { Logger } from 'pino';
import { createClient, defineScript, type CommandParser } from '@redis/client';
import { closeConnection, connectOrFail, redisOptions, throttledWarning, watchConnection, within } from './redis-client.js';
import type { SignInLimiter } from './types.js';

const KEY_PREFIX = 'parley:signin:';
/** How long an attempt waits for Redis before it is let through. */
const TAKE_TIMEOUT_MS = 1000;

/**
 * KEYS[1]: the key's cell. ARGV: ms per attempt regained, burst.
 * The cell holds the time at which the bucket is full again (tat); an attempt moves it one
 * interval later, and is allowed while that stays within `burst` intervals of now.
 * Returns 0 when allowed, else the ms until an attempt is.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allowed_at = tat + interval - interval * burst
if now < allowed_at then return allowed_at - now end
redis.call('SET', KEYS[1], string.format('%d', tat + interval), 'PX', tat + interval - now)
return 0
`;

const scripts = {
  signInTake: defineScript({
    SCRIPT: TAKE,
    NUMBER_OF_KEYS: 1,
    parseCommand(parser: CommandParser, key: string, interval: number, burst: number) {
      parser.pushKey(KEY_PREFIX + key);
      parser.push(String(interval), String(burst));
    },
    transformReply: (reply: unknown) => Number(reply),
  }),
};

const createLimiterClient = (url: string) => createClient({ ...redisOptions(url), scripts });
type Client = ReturnType<typeof createLimiterClient>;

export interface RedisSignInLimiterOptions {
  /** Attempts allowed at once; more than 0. */
  burst: number;
  /** Attempts regained per minute; more than 0. */
  perMinute: number;
  logger: Logger;
}

export class RedisSignInLimiter implements SignInLimiter {
  readonly #client: Client;
  readonly #interval: number;
  readonly #burst: number;
  readonly #failOpen: ReturnType<typeof throttledWarning>;

  private constructor(client: Client, options: RedisSignInLimiterOptions) {
    this.#client = client;
    this.#interval = Math.ceil(60_000 / options.perMinute);
    this.#burst = options.burst;
    this.#failOpen = throttledWarning(
      options.logger.child({ component: 'redis-sign-in-limit' }),
      'Redis does not answer: sign-ins are not rate limited until it does',
    );
  }

  /** Connects to the Redis at `url`; fails if it cannot within 10 s. */
  static async connect(url: string, options: RedisSignInLimiterOptions): Promise<RedisSignInLimiter> {
    const client = createLimiterClient(url);
    const limiter = new RedisSignInLimiter(client, options);
    watchConnection(client, options.logger, 'sign-in limit', () => limiter.#failOpen.reset());
    await connectOrFail(client, url);
    return limiter;
  }

  async take(key: string): Promise<number> {
    try {
      return await within(this.#client.signInTake(key, this.#interval, this.#burst), TAKE_TIMEOUT_MS);
    } catch (err) {
      this.#failOpen.warn(err);
      return 0;
    }
  }

  close(): Promise<void> {
    return closeConnection(this.#client);
  }
}

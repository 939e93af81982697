/**
 * A token bucket per client IP, for sign-in attempts: a burst is allowed, then a steady trickle.
 * In memory and per node (several nodes share one in Redis: broker/redis-sign-in-limiter.ts);
 * bounded in size so a flood of addresses cannot grow it without end.
 */
import { isIP } from 'node:net';
import type { SignInLimiter } from '../broker/types.js';

/**
 * The key a client is limited by: an IPv4 address, or the /64 network of an IPv6 address (one
 * subscriber usually holds a whole /64, so limiting single IPv6 addresses would limit nobody).
 */
export function rateLimitKey(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  let text = ip.toLowerCase();
  // An IPv4 tail (64:ff9b::1.2.3.4) becomes its two hextets.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [left = '', right] = text.split('::');
  const head = left ? left.split(':') : [];
  const tail = right ? right.split(':') : [];
  const groups = right === undefined ? head : [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  return groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':') + '::/64';
}

export interface RateLimitOptions {
  /** Attempts allowed at once; 0 turns the limit off. */
  burst: number;
  /** Attempts regained per minute. */
  perMinute: number;
  /** Addresses remembered at most; the least recently seen are forgotten first. */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    this.#burst = options.burst;
    this.#perMs = options.perMinute / 60_000;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** Spends one attempt of `key`. Returns 0 when allowed, else the milliseconds until one is. */
  take(key: string): number {
    // A burst of 0 means no limit (SIGNIN_RATE=0).
    if (this.#burst === 0) return 0;
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
    bucket.at = now;
    // Re-insert so the Map's order is least recently seen first.
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return this.#perMs > 0 ? Math.ceil((1 - bucket.tokens) / this.#perMs) : Infinity;
  }

  get size(): number {
    return this.#buckets.size;
  }
}

/** The sign-in limit of a single node: a RateLimiter in this process. */
export class LocalSignInLimiter implements SignInLimiter {
  readonly #limiter: RateLimiter;

  constructor(options: RateLimitOptions) {
    this.#limiter = new RateLimiter(options);
  }

  async take(key: string): Promise<number> {
    return this.#limiter.take(key);
  }

  async close(): Promise<void> {}
}

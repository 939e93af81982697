/**
 * A token bucket per client IP, for sign-in attempts: a burst is allowed, then a steady trickle.
 * In memory and per node; bounded in size so a flood of addresses cannot grow it without end.
 */
export interface RateLimitOptions {
  /** Attempts allowed at once. */
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

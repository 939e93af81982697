/** Token bucket: `rate` messages per second, bursts up to twice that. rate 0 = unlimited. */
export class RateLimiter {
  #tokens: number;
  #last: number;
  readonly #capacity: number;
  /** Messages refused in a row; the connection is closed when a client keeps going. */
  refusedInARow = 0;

  constructor(
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#capacity = rate * 2;
    this.#tokens = this.#capacity;
    this.#last = now();
  }

  /** Takes one token; false when the client is over its rate. */
  take(): boolean {
    if (this.rate === 0) return true;
    const t = this.now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((t - this.#last) / 1000) * this.rate);
    this.#last = t;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.refusedInARow = 0;
      return true;
    }
    this.refusedInARow += 1;
    return false;
  }

  /** A client that sent a whole burst more while refused is not slowing down: cut it off. */
  get abusive(): boolean {
    return this.rate > 0 && this.refusedInARow > this.#capacity;
  }
}

/**
 * Token bucket: `rate` messages per second, bursts up to twice that; rate 0 = unlimited.
 *
 * Kept as the generic cell rate algorithm: a client's whole bucket is one number, the time at
 * which its bucket would be full again (`due`), so one RateLimit serves every connection of a hub
 * and each connection carries a number rather than an object of its own.
 */
export class RateLimit {
  /** ms one message costs */
  readonly #interval: number;
  /** how far ahead of now `due` may run: a full bucket of 2 × rate messages less the one being sent (plus 1 µs against rounding) */
  readonly #tolerance: number;
  readonly #burst: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.#burst = rate * 2;
    this.#interval = rate > 0 ? 1000 / rate : 0;
    this.#tolerance = (this.#burst - 1) * this.#interval + 0.001;
  }

  /**
   * One message of a client whose bucket is full again at `due` (0 for a new client): returns the
   * client's new `due` when the message may pass, or -1 when the client is over its rate.
   */
  admit(due: number): number {
    if (this.rate === 0) return due;
    const t = this.now();
    const start = due > t ? due : t;
    return start - t > this.#tolerance ? -1 : start + this.#interval;
  }

  /** A client that sent a whole burst more while refused is not slowing down: cut it off. */
  abusive(refusedInARow: number): boolean {
    return this.rate > 0 && refusedInARow > this.#burst;
  }
}

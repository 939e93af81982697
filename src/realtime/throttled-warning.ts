/**
 * A warning about a condition that repeats (a broker that is down fails every publish): logged at
 * most once per interval, with how many times it happened since the last one.
 */
export class ThrottledWarning {
  #last = 0;
  #count = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly log: (err: unknown, count: number) => void,
  ) {}

  report(err: unknown): void {
    this.#count += 1;
    const now = Date.now();
    if (now - this.#last < this.intervalMs) return;
    this.#last = now;
    this.log(err, this.#count);
    this.#count = 0;
  }
}

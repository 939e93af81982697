/**
 * Collects the messages sent during one event-loop turn and stores them in one transaction.
 * One batch is in flight at a time; what arrives meanwhile forms the next batch, so the batch size
 * grows with the load and the store sees few, large commits. Callbacks rather than promises: this
 * is the per-message hot path, and each promise is an allocation and a microtask.
 */
import { StoreUnavailableError, type AppendResult, type NewEntry, type Store } from '../store/types.js';

export type AppendCallback = (err: unknown, result: AppendResult | undefined) => void;

export class AppendBatcher {
  #messages: NewEntry[] = [];
  #callbacks: AppendCallback[] = [];
  #inFlight: Promise<void> | undefined;
  #scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 2000,
  ) {}

  append(message: NewEntry, done: AppendCallback): void {
    this.#messages.push(message);
    this.#callbacks.push(done);
    this.#schedule();
  }

  /** Resolves when everything queued so far is stored (or failed). */
  async drain(): Promise<void> {
    while (this.#messages.length > 0 || this.#inFlight) {
      if (this.#inFlight) await this.#inFlight;
      else await this.#flush();
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  #flush(): Promise<void> {
    if (this.#inFlight || this.#messages.length === 0) return this.#inFlight ?? Promise.resolve();
    let messages: NewEntry[];
    let callbacks: AppendCallback[];
    if (this.#messages.length <= this.maxBatch) {
      messages = this.#messages;
      callbacks = this.#callbacks;
      this.#messages = [];
      this.#callbacks = [];
    } else {
      messages = this.#messages.splice(0, this.maxBatch);
      callbacks = this.#callbacks.splice(0, this.maxBatch);
    }
    const inFlight = this.#store_(messages, callbacks);
    this.#inFlight = inFlight;
    return inFlight;
  }

  /** Ends the batch in flight and sends the next one, if any arrived meanwhile. */
  #next(): void {
    this.#inFlight = undefined;
    if (this.#messages.length > 0) void this.#flush();
  }

  async #store_(messages: NewEntry[], callbacks: AppendCallback[]): Promise<void> {
    let results: AppendResult[];
    try {
      results = await this.store.appendMessages(messages);
    } catch (err) {
      // One bad message (its room gone meanwhile) must not fail the others: retry them one by one,
      // before the next batch, so that a room's messages still get their ids in arrival order.
      try {
        // A store that cannot be reached fails every message alike: no point in asking it again now.
        if (messages.length === 1 || err instanceof StoreUnavailableError) {
          for (const callback of callbacks) callback(err, undefined);
          return;
        }
        for (let i = 0; i < messages.length; i++) {
          let result: AppendResult | undefined;
          try {
            [result] = await this.store.appendMessages([messages[i]!]);
          } catch (e) {
            callbacks[i]!(e, undefined);
            continue;
          }
          callbacks[i]!(undefined, result);
        }
        return;
      } finally {
        this.#next();
      }
    }
    // The next batch goes to the store before this one is broadcast: the store commits it while
    // this thread writes to the sockets, instead of waiting for those writes to end.
    this.#next();
    for (let i = 0; i < messages.length; i++) callbacks[i]!(undefined, results[i]);
  }
}

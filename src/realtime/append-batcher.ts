/**
 * Collects the messages sent during one event-loop turn and stores them in one transaction.
 * One batch is in flight at a time; what arrives meanwhile forms the next batch, so the batch size
 * grows with the load and the store sees few, large commits.
 */
import type { AppendResult, NewMessage, Store } from '../store/types.js';

interface Pending {
  message: NewMessage;
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

export class AppendBatcher {
  #queue: Pending[] = [];
  #inFlight: Promise<void> | undefined;
  #scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly maxBatch = 2000,
  ) {}

  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves when everything queued so far is stored (or failed). */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#inFlight) {
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
    if (this.#inFlight || this.#queue.length === 0) return this.#inFlight ?? Promise.resolve();
    const batch = this.#queue.splice(0, this.maxBatch);
    this.#inFlight = this.#store(batch).finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length > 0) this.#schedule();
    });
    return this.#inFlight;
  }

  async #store(batch: Pending[]): Promise<void> {
    let results: AppendResult[];
    try {
      results = await this.store.appendMessages(batch.map((p) => p.message));
    } catch (err) {
      // One bad message (its room deleted meanwhile) must not fail the others: retry them one by one.
      if (batch.length > 1) {
        for (const p of batch) {
          try {
            const [result] = await this.store.appendMessages([p.message]);
            p.resolve(result!);
          } catch (e) {
            p.reject(e);
          }
        }
      } else batch[0]!.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
  }
}

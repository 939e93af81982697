/**
 * How a page of search results is cut, for every Store: newest first by `ts`, and a page never
 * splits the messages that share a ts (it may hold more than `limit` then), so that the next page,
 * asked with `before` = the ts of the oldest message of this one, loses and repeats nothing.
 */
import type { StoredMessage } from './types.js';

/** Newest first; messages with the same ts by room, then by id (newest first). */
export function searchOrder(a: StoredMessage, b: StoredMessage): number {
  return b.ts - a.ts || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0) || b.id - a.id;
}

/**
 * Collects matches until a page can be cut: `extra` (found apart, in any order, complete), then
 * the matches of an ordered source (descending ts), a stretch at a time, until it ends.
 */
export class SearchPageBuilder {
  readonly #limit: number;
  readonly #found: StoredMessage[];
  #exhausted = false;
  #lastTs = Number.POSITIVE_INFINITY;

  constructor(limit: number, extra: StoredMessage[] = []) {
    this.#limit = limit;
    this.#found = [...extra];
  }

  /**
   * Adds the matches of the next stretch of the ordered source, which has been read down to `readTo`
   * (the ts of the last candidate looked at, matching or not).
   */
  add(matches: StoredMessage[], readTo: number): void {
    this.#found.push(...matches);
    this.#lastTs = Math.min(this.#lastTs, readTo);
  }

  /** Marks the ordered source as read to its end. */
  end(): void {
    this.#exhausted = true;
  }

  /**
   * Whether the page is known: the source has no more, or it went past the ts of the page's last
   * message (so every message with that ts, and one older, is in hand).
   */
  get complete(): boolean {
    if (this.#exhausted) return true;
    if (this.#found.length <= this.#limit) return false;
    this.#found.sort(searchOrder);
    return this.#lastTs < this.#found[this.#limit - 1]!.ts;
  }

  /** The page: at most `limit` messages, or more when the last ones share a ts; `more` when older ones exist. */
  page(): { data: StoredMessage[]; more: boolean } {
    const sorted = this.#found.sort(searchOrder);
    if (sorted.length <= this.#limit) return { data: sorted, more: false };
    const cut = sorted[this.#limit - 1]!.ts;
    const data = sorted.filter((m) => m.ts >= cut);
    return { data, more: data.length < sorted.length };
  }
}

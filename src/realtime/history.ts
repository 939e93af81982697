/** Pages of a room's stored messages, and whether some of them were pruned. */
import type { ChatFrame } from '../protocol/frames.js';
import type { HistoryQuery, StoredMessage, Store } from '../store/types.js';

export interface HistoryPage {
  data: StoredMessage[];
  /** Older messages exist (for `before` or no bound), or newer ones (for `after` alone). */
  more: boolean;
}

export async function historyPage(store: Store, room: string, query: HistoryQuery): Promise<HistoryPage> {
  const rows = await store.history(room, { ...query, limit: query.limit + 1 });
  if (rows.length <= query.limit) return { data: rows, more: false };
  // One row too many tells that there is more: drop it from the far end of the page.
  return query.after !== undefined && query.before === undefined
    ? { data: rows.slice(0, query.limit), more: true }
    : { data: rows.slice(1), more: true };
}

/** Whether some messages after `after` were pruned (the room's newest id is `newest`). */
export async function missingAfter(store: Store, room: string, after: number, newest: number): Promise<boolean> {
  const oldest = await store.oldestKeptId(room);
  return oldest === undefined ? newest > after : oldest > after + 1;
}

export function toFrame(m: StoredMessage): ChatFrame {
  return { type: 'chat', ...m };
}

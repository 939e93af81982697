/** Pages of a room's timeline, and whether some of it was pruned. */
import type { ChatFrame, TimelineFrame } from '../protocol/frames.js';
import type { HistoryQuery, StoredMessage, Store, TimelineEntry } from '../store/types.js';

export interface HistoryPage {
  /** Messages in their current state; with `after`, the timeline itself (messages and events). */
  data: TimelineEntry[];
  /** Older entries exist (for `before` or no bound), or newer ones (for `after` alone). */
  more: boolean;
  /** Without `after`: the room's newest id when the page was read (every event up to it is folded in). */
  lastId?: number;
}

/**
 * A page of history. Without `after`: the room's messages in their current state (what a reader
 * scrolling back sees). With `after` (a catch-up): every entry after it, events included, so that a
 * client folding them into what it has misses no edit.
 */
export async function historyPage(store: Store, room: string, query: HistoryQuery): Promise<HistoryPage> {
  if (query.after === undefined) return messagesPage(store, room, query);
  return page(await store.history(room, { ...query, limit: query.limit + 1 }), query);
}

/**
 * A page of the room's messages in their current state, older than `before`; `lastId` is the room's
 * newest id when it was read (every event up to it is folded in).
 */
export async function messagesPage(store: Store, room: string, query: HistoryQuery): Promise<{ data: StoredMessage[]; more: boolean; lastId: number }> {
  const { data, lastId } = await store.messages(room, { ...query, limit: query.limit + 1 });
  return { ...page(data, query), lastId };
}

function page<T>(rows: T[], query: HistoryQuery): { data: T[]; more: boolean } {
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

/** The frame of a timeline entry: a chat frame, or an edit, delete or react frame. */
export function toFrame(entry: TimelineEntry): TimelineFrame {
  if (entry.kind === undefined) return chatFrame(entry);
  const { kind, ...rest } = entry;
  return { type: kind, ...rest } as TimelineFrame;
}

export function chatFrame(m: StoredMessage): ChatFrame {
  const { kind: _kind, ...rest } = m;
  return { type: 'chat', ...rest };
}

/**
 * What a room holds unread for the user, from the server's read marker: the messages of others
 * after it (deleted ones do not count), and apart from them those that name the user.
 */
import type { ChatMessage } from '../../src/client/index.js';

export interface UnreadInput {
  /** The room's messages the page holds, in any order. */
  messages: readonly ChatMessage[];
  /** The user's read marker: everything up to this id is read. */
  lastRead: number;
  /** The room's newest id known (messages and events). */
  latestId: number;
  me: number;
  /** The page holds every message from this id on (older ones may be missing). */
  completeFrom: number;
  /** Ids of messages the server said name the user (`mention` events), loaded or not. */
  mentionIds: readonly number[];
}

export interface UnreadCounts {
  count: number;
  mentions: number;
  /** Messages between the marker and what the page holds are not loaded: there may be more. */
  atLeast: boolean;
}

export function unreadCounts(input: UnreadInput): UnreadCounts {
  const { messages, lastRead, latestId, me, completeFrom, mentionIds } = input;
  let count = 0;
  let mentions = 0;
  const held = new Set<number>();
  for (const m of messages) {
    held.add(m.id);
    if (m.id <= lastRead || m.user.id === me || m.deleted) continue;
    count += 1;
    if (m.mentions?.includes(me) || mentionIds.includes(m.id)) mentions += 1;
  }
  // Told of a mention whose message the page has not loaded: it still counts.
  for (const id of new Set(mentionIds)) {
    if (id > lastRead && !held.has(id)) {
      mentions += 1;
      count += 1;
    }
  }
  return { count, mentions, atLeast: latestId > lastRead && completeFrom > lastRead + 1 };
}

/** A count as a badge shows it: at most 99+, with + when there may be more than counted. */
export function badgeText(count: number, atLeast = false): string {
  if (count > 99) return '99+';
  return atLeast ? `${count}+` : String(count);
}

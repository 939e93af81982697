/**
 * What every Store checks before it stores a timeline event, written once so that SQLite and
 * PostgreSQL refuse the same things with the same words. The stores call these inside the
 * transaction that stores the event, with the target as that transaction sees it.
 */
import type { NewEdit, NewDelete, NewEntry, NewReact, Refusal } from './types.js';

/** The most different emoji one message may carry. */
export const MAX_REACTIONS_PER_MESSAGE = 20;

/** What a check needs to know of the message an event (or a reply) names. */
export interface TargetInfo {
  /** Whether the entry is a message (not an event). */
  message: boolean;
  userId: number;
  deleted: boolean;
}

/** A message without a reply or mentions: what the stores' fast paths take. */
export function isPlainMessage(entry: NewEntry): boolean {
  return entry.kind === undefined && entry.reply === undefined && entry.mentions === undefined;
}

const notFound = (message: string): Refusal => ({ code: 'not_found', message });
const forbidden = (message: string): Refusal => ({ code: 'forbidden', message });

/** Why a reply may not name `target`, if it may not: it must be a message of the room (deleted or not). */
export function refuseReply(room: string, reply: number, target: TargetInfo | undefined): Refusal | undefined {
  if (target === undefined || !target.message) return notFound(`no message ${reply} in "${room}" to reply to`);
  return undefined;
}

/** Why the event may not change its target, if it may not (reactions are checked by refuseReaction). */
export function refuseEvent(event: NewEdit | NewDelete | NewReact, target: TargetInfo | undefined): Refusal | undefined {
  if (target === undefined || !target.message) return notFound(`no message ${event.target} in "${event.room}"`);
  if (target.deleted) return notFound(`message ${event.target} was deleted`);
  if (event.kind === 'edit' && target.userId !== event.user.id) return forbidden(`only its author can edit message ${event.target}`);
  if (event.kind === 'delete' && !event.anyAuthor && target.userId !== event.user.id) {
    return forbidden(`only its author can delete message ${event.target}`);
  }
  return undefined;
}

/**
 * Why a react on or off may not be stored, given whether the user has that emoji on the target now
 * and how many different emoji the target carries. (A react on that is on already is not refused:
 * the store answers with the event that put it on.)
 */
export function refuseReaction(event: NewReact, hasIt: boolean, emojiCount: number, emojiPresent: boolean): Refusal | undefined {
  if (!event.on && !hasIt) return notFound(`you have no ${event.emoji} on message ${event.target}`);
  if (event.on && !emojiPresent && emojiCount >= MAX_REACTIONS_PER_MESSAGE) {
    return forbidden(`message ${event.target} has ${MAX_REACTIONS_PER_MESSAGE} different reactions: add one of those`);
  }
  return undefined;
}

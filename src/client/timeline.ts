/**
 * One room's messages as a reader sees them: each message with its edits, deletion and reactions
 * folded in, in id order. The web page and `parley chat` keep one per room: give it the pages of
 * `history()` (add) and the client's `chat`, `edit`, `delete` and `react` events (apply), and read
 * `messages`. Folding follows the server's rules exactly, so what a Timeline holds equals what a
 * history page read now would say.
 */
import type { ChatMessage, DeleteFrame, EditFrame, ReactFrame, TimelineEventFrame } from './types.js';

/** Events kept per room to fold again into a page read before them (see add). */
const RECENT_EVENTS = 500;

/**
 * `message` with `event` folded in: an edit sets its text and `edited`; a delete erases it (its
 * text is "", its `edited`, mentions and reactions are gone, `deleted` is true); a react on adds
 * the user to the emoji's list (at its end), a react off takes them out (and the emoji, when no
 * one is left). A deleted message takes no more changes, and neither does a fold that changes
 * nothing (an edit older than the message's last one, a reaction already on or off).
 */
export function foldEvent(message: ChatMessage, event: TimelineEventFrame): ChatMessage {
  if (message.deleted) return message;
  switch (event.type) {
    case 'edit':
      return foldEdit(message, event);
    case 'delete':
      return foldDelete(message, event);
    case 'react':
      return foldReact(message, event);
  }
}

function foldEdit(message: ChatMessage, event: EditFrame): ChatMessage {
  if (message.edited !== undefined && message.edited >= event.ts) return message;
  return { ...message, data: event.data, edited: event.ts };
}

function foldDelete(message: ChatMessage, _event: DeleteFrame): ChatMessage {
  const { room, id, user, ts, cid, reply } = message;
  const deleted: ChatMessage = { room, id, user, data: '', ts };
  if (cid !== undefined) deleted.cid = cid;
  if (reply !== undefined) deleted.reply = reply;
  deleted.deleted = true;
  return deleted;
}

function foldReact(message: ChatMessage, event: ReactFrame): ChatMessage {
  const users = message.reactions?.[event.emoji] ?? [];
  const has = users.includes(event.user.id);
  if (event.on === has) return message;
  // Each emoji keeps its place; a new one goes last, one nobody has any more goes.
  const left = event.on ? [...users, event.user.id] : users.filter((u) => u !== event.user.id);
  const reactions: Record<string, number[]> = {};
  for (const [emoji, who] of Object.entries(message.reactions ?? {})) {
    if (emoji !== event.emoji) reactions[emoji] = who;
    else if (left.length > 0) reactions[emoji] = left;
  }
  if (users.length === 0) reactions[event.emoji] = left;
  const { reactions: _old, ...rest } = message;
  return Object.keys(reactions).length === 0 ? rest : { ...rest, reactions };
}

function isEvent(entry: ChatMessage | TimelineEventFrame): entry is TimelineEventFrame {
  return 'type' in entry && (entry.type === 'edit' || entry.type === 'delete' || entry.type === 'react');
}

export class Timeline {
  readonly room: string;
  readonly #byId = new Map<number, ChatMessage>();
  #sorted: ChatMessage[] | undefined;
  /** The events applied lately, oldest first, for add() to fold into pages read before them. */
  readonly #recent: TimelineEventFrame[] = [];

  constructor(room: string) {
    this.room = room;
  }

  /** The messages held, in id order (the same array until something changes). */
  get messages(): readonly ChatMessage[] {
    this.#sorted ??= [...this.#byId.values()].sort((a, b) => a.id - b.id);
    return this.#sorted;
  }

  get(id: number): ChatMessage | undefined {
    return this.#byId.get(id);
  }

  /**
   * Adds a page of history (or messages loaded over HTTP), replacing the messages it holds: a page
   * is their state when it was read, at `lastId`. Events applied here with a higher id came after
   * that, and are folded in again (all of them, when lastId is unknown).
   */
  add(page: { data: readonly ChatMessage[]; lastId?: number }): void {
    const later = this.#recent.filter((e) => page.lastId === undefined || e.id > page.lastId);
    for (const message of page.data) {
      if (message.room !== this.room) continue;
      let folded = message;
      for (const event of later) if (event.target === message.id) folded = foldEvent(folded, event);
      this.#byId.set(message.id, folded);
    }
    this.#sorted = undefined;
  }

  /**
   * Applies what the client delivered: a new message (kept unless one with its id is held, which
   * came from a page and is newer), or an event, folded into its target. Returns the message that
   * changed, or undefined (an event whose target is not held: a page loaded later has it folded in).
   */
  apply(entry: ChatMessage | TimelineEventFrame): ChatMessage | undefined {
    if (entry.room !== this.room) return undefined;
    if (!isEvent(entry)) {
      if (this.#byId.has(entry.id)) return undefined;
      this.#byId.set(entry.id, entry);
      this.#sorted = undefined;
      return entry;
    }
    const event = entry;
    this.#recent.push(event);
    if (this.#recent.length > RECENT_EVENTS) this.#recent.shift();
    const target = this.#byId.get(event.target);
    if (target === undefined) return undefined;
    const folded = foldEvent(target, event);
    if (folded === target) return undefined;
    this.#byId.set(target.id, folded);
    this.#sorted = undefined;
    return folded;
  }

  /** Forgets the messages before `id` (a page that scrolled away), keeping the rest. */
  forgetBefore(id: number): void {
    for (const key of this.#byId.keys()) if (key < id) this.#byId.delete(key);
    this.#sorted = undefined;
  }

  /** Forgets everything (the room's history went back in time: the `rewound` event). */
  clear(): void {
    this.#byId.clear();
    this.#recent.length = 0;
    this.#sorted = undefined;
  }
}

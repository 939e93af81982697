/** How `parley chat` shows events in a terminal: one line each, time and sender first. */
import type { ChatMessage, WireUser } from '../client/index.js';

/** How much of a message a quote shows (a reply's, a reaction's target), in characters. */
const QUOTE_CHARS = 30;

/** `HH:MM` of a ts, local time. */
export function clock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A DM room `dm:<a>:<b>` shown as "dm"; other rooms as their name. */
export function roomLabel(room: string): string {
  return room.startsWith('dm:') ? 'dm' : room;
}

/** `[general] ` in front of a line of another room than the current one; nothing for the current room. */
export function roomPrefix(room: string, currentRoom: string | undefined, label: (room: string) => string = roomLabel): string {
  return room === currentRoom ? '' : `[${label(room)}] `;
}

/** `alice: "the first words of it…"` on one line, or `alice: (deleted)`. */
export function quote(m: ChatMessage): string {
  if (m.deleted) return `${m.user.name}: (deleted)`;
  const chars = [...m.data.replace(/\s+/g, ' ').trim()];
  const words = chars.length > QUOTE_CHARS ? `${chars.slice(0, QUOTE_CHARS).join('').trimEnd()}…` : chars.join('');
  return `${m.user.name}: "${words}"`;
}

export interface ChatLineOptions {
  /** Names a room in the line (a session names a DM's other user: `dm bob`). */
  label?: (room: string) => string;
  /** The signed-in user: a message that names them is marked. */
  selfId?: number | undefined;
  /** The message a reply answers, when it is known: it is quoted. */
  answered?: ChatMessage | undefined;
}

/**
 * `12:34 #7 alice: hello` in the current room, `12:34 [general] #7 alice: hello` elsewhere (#7: the
 * message's id, which /reply, /edit, /react take); then what happened to it since (edited, deleted,
 * reactions), what it answers (`↪ #5 bob: "…"`) and whether it names you.
 */
export function formatChat(m: ChatMessage, currentRoom: string | undefined, options: ChatLineOptions = {}): string {
  let line = `${clock(m.ts)} ${roomPrefix(m.room, currentRoom, options.label)}#${m.id} ${m.user.name}: `;
  line += m.deleted ? '(deleted)' : m.data;
  if (m.edited !== undefined && !m.deleted) line += ' (edited)';
  const reactions = Object.entries(m.reactions ?? {});
  if (reactions.length > 0) line += ` [${reactions.map(([emoji, who]) => `${emoji} ${who.length}`).join(', ')}]`;
  if (m.reply !== undefined) line += `  ↪ #${m.reply}${options.answered ? ` ${quote(options.answered)}` : ''}`;
  if (mentions(m, options.selfId)) line += '  (mentions you)';
  return line;
}

/** Whether message `m` names the user `selfId` with an @name. */
export function mentions(m: ChatMessage, selfId: number | undefined): boolean {
  return selfId !== undefined && !m.deleted && (m.mentions?.includes(selfId) ?? false);
}

export function formatUsers(users: WireUser[]): string {
  return users.length === 0 ? 'nobody' : users.map((u) => u.name).join(', ');
}

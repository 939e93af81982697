/**
 * The lines of `parley chat` for changes to messages (edit, delete, react), each naming the message
 * it changes (`#12`) and quoting it when it is known, and the lines of a /search answer.
 */
import type { ChatMessage, DeleteFrame, EditFrame, ReactFrame } from '../client/index.js';
import { clock, formatChat, quote, roomPrefix, type ChatLineOptions } from './chat-format.js';

/** `12:40 alice edited #12: the new text` (`[general] ` in front for another room). */
export function formatEdit(e: EditFrame, currentRoom: string | undefined, label?: (room: string) => string): string {
  return `${clock(e.ts)} ${roomPrefix(e.room, currentRoom, label)}${e.user.name} edited #${e.target}: ${e.data}`;
}

/** `12:40 alice deleted #12`; `12:40 mod deleted #12 (alice's message)` when another deleted it. */
export function formatDelete(e: DeleteFrame, target: ChatMessage | undefined, currentRoom: string | undefined, label?: (room: string) => string): string {
  const whose = target !== undefined && target.user.id !== e.user.id ? ` (${target.user.name}'s message)` : '';
  return `${clock(e.ts)} ${roomPrefix(e.room, currentRoom, label)}${e.user.name} deleted #${e.target}${whose}`;
}

/** `12:40 bob reacted 👍 to #12 (alice: "first words…")`, or `bob took back 👍 on #12 (…)`. */
export function formatReact(e: ReactFrame, target: ChatMessage | undefined, currentRoom: string | undefined, label?: (room: string) => string): string {
  const what = e.on ? `reacted ${e.emoji} to` : `took back ${e.emoji} on`;
  const quoted = target === undefined ? '' : ` (${quote(target)})`;
  return `${clock(e.ts)} ${roomPrefix(e.room, currentRoom, label)}${e.user.name} ${what} #${e.target}${quoted}`;
}

/** `2026-01-02`: search results can be old, so their lines carry the day too. */
function day(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * A page of /search results, newest first: a head line, then each message with its day, room, id,
 * author, time and text (`  2026-01-02 12:34 [general] #7 alice: hello`), then how to go on.
 */
export function formatSearch(
  page: { q: string; room?: string | undefined; data: readonly ChatMessage[]; more: boolean; first: boolean },
  options: ChatLineOptions,
): string {
  const where = page.room === undefined ? '' : ` in ${options.label?.(page.room) ?? page.room}`;
  if (page.data.length === 0) return `* ${page.first ? 'nothing found' : 'no more found'} for "${page.q}"${where}`;
  const head = `* ${page.first ? '' : 'more '}found for "${page.q}"${where}, newest first:`;
  // No room is the current one here: every result names its room.
  const lines = page.data.map((m) => `  ${day(m.ts)} ${formatChat(m, undefined, { ...options, answered: undefined })}`);
  const tail = page.more ? '* older ones exist: /more' : '* that is all';
  return [head, ...lines, tail].join('\n');
}

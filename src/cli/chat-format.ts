/** How `parley chat` shows events in a terminal: one line each, time and sender first. */
import type { ChatMessage, WireUser } from '../client/index.js';

/** `HH:MM` of a ts, local time. */
export function clock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A DM room `dm:<a>:<b>` shown as "dm"; other rooms as their name. */
export function roomLabel(room: string): string {
  return room.startsWith('dm:') ? 'dm' : room;
}

/**
 * `12:34 alice: hello` in the current room, `12:34 [general] alice: hello` elsewhere; `label` names
 * the room (a session names a DM's other user: `[dm bob]`).
 */
export function formatChat(m: ChatMessage, currentRoom: string | undefined, label: (room: string) => string = roomLabel): string {
  const where = m.room === currentRoom ? '' : `[${label(m.room)}] `;
  return `${clock(m.ts)} ${where}${m.user.name}: ${m.data}`;
}

export function formatUsers(users: WireUser[]): string {
  return users.length === 0 ? 'nobody' : users.map((u) => u.name).join(', ');
}

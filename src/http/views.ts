/** The JSON shapes of the API (the same as on the WebSocket). */
import type { TimelineFrame } from '../protocol/frames.js';
import { toFrame } from '../realtime/history.js';
import type { Room, TimelineEntry, User } from '../store/types.js';

export function userView(user: User): { id: number; name: string; guest: boolean } {
  return { id: user.id, name: user.name, guest: user.guest };
}

export function roomView(room: Room): { name: string; private: boolean; direct: boolean; lastId: number } {
  return { name: room.name, private: room.private, direct: room.direct, lastId: room.lastId };
}

/** A message as a chat frame, or an event as its frame: the WebSocket's shapes. */
export const entryView: (entry: TimelineEntry) => TimelineFrame = toFrame;

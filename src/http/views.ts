/** The JSON shapes of the API (the same as on the WebSocket). */
import type { Room, StoredMessage, User } from '../store/types.js';

export function userView(user: User): { id: number; name: string; guest: boolean } {
  return { id: user.id, name: user.name, guest: user.guest };
}

export function roomView(room: Room): { name: string; private: boolean; direct: boolean; lastId: number } {
  return { name: room.name, private: room.private, direct: room.direct, lastId: room.lastId };
}

export function chatView(message: StoredMessage) {
  const { room, id, user, data, ts, cid } = message;
  return { type: 'chat' as const, room, id, user: { id: user.id, name: user.name }, data, ts, ...(cid !== undefined ? { cid } : {}) };
}

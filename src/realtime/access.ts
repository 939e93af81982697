/**
 * Who may use which room. Public rooms are open to everyone; private rooms and DMs to their
 * members, and to anyone else they do not exist: a non-member gets the not_found of a missing room,
 * so that trying names cannot discover private rooms. Rooms are cached (they are never deleted and
 * their privacy never changes), and a connection remembers the private rooms it was found allowed
 * in, so that the hot path (a chat to a room already allowed) needs no await.
 */
import type { PresenceUser } from '../broker/types.js';
import type { Room, Store } from '../store/types.js';
import { ChatError } from './errors.js';

/** What access needs of a connection: its user and the private rooms it was found allowed in. */
export interface AccessHolder {
  readonly user: PresenceUser;
  allows(room: string): boolean;
  allow(room: string): void;
}

export class RoomAccess {
  readonly #rooms = new Map<string, Room>();

  constructor(private readonly store: Store) {}

  /** The room, or not_found. */
  async room(name: string): Promise<Room> {
    const cached = this.#rooms.get(name);
    if (cached) return cached;
    const room = await this.store.getRoom(name);
    if (!room) throw noSuchRoom(name);
    this.#rooms.set(name, room);
    return room;
  }

  /** The room, when the user may read and write it; not_found otherwise (a private room included). */
  async check(user: PresenceUser, name: string): Promise<Room> {
    const room = await this.room(name);
    if (room.private && !(await this.store.isMember(name, user.id))) throw noSuchRoom(name);
    return room;
  }

  /** Whether the connection may use the room, known without waiting (a cached public room, or allowed before). */
  mayUse(conn: AccessHolder, name: string): boolean {
    const room = this.#rooms.get(name);
    return (room !== undefined && !room.private) || conn.allows(name);
  }

  /** Resolves when the connection may use the room (remembering a private one); rejects otherwise. */
  async allow(conn: AccessHolder, name: string): Promise<void> {
    if (this.mayUse(conn, name)) return;
    const room = await this.check(conn.user, name);
    if (room.private) conn.allow(name);
  }

  /**
   * Whether the user may delete others' messages in the room, and not only their own. Nobody may
   * yet: moderation (room moderators and owners, server admins) will decide it here.
   */
  async mayDeleteAnyMessage(_user: PresenceUser, _room: Room): Promise<boolean> {
    return false;
  }

  /** The DM room of two users, made on first use. */
  async directRoom(from: PresenceUser, to: number): Promise<Room> {
    if (to === from.id) throw new ChatError('bad_request', 'a direct message needs another user');
    if (!(await this.store.getUser(to))) throw new ChatError('not_found', `no user with id ${to}`);
    const room = await this.store.ensureDirectRoom(from.id, to);
    this.#rooms.set(room.name, room);
    return room;
  }
}

/** What a missing room, and a private room to a non-member, are answered with: the same words. */
export function noSuchRoom(name: string): ChatError {
  return new ChatError('not_found', `no room "${name}"`);
}

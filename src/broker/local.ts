import type { Broker, PresenceUser, RoomEvent, RoomEventHandler } from './types.js';

/**
 * A user in a room: the user's connection there, or a set once the user has several (tabs).
 * Most users have one connection, so most entries carry no set.
 */
interface PresenceEntry {
  user: PresenceUser;
  conns: string | Set<string>;
}

/** The broker of a single node: events go straight back to this process, presence is a map. */
export class LocalBroker implements Broker {
  #handler: RoomEventHandler | undefined;
  readonly #subscribed = new Set<string>();
  /** room -> user id -> (user, connection ids) */
  readonly #presence = new Map<string, Map<number, PresenceEntry>>();

  publish(room: string, event: RoomEvent): void {
    if (this.#subscribed.has(room)) this.#handler?.(room, event);
  }

  async subscribe(room: string): Promise<void> {
    this.#subscribed.add(room);
  }

  async unsubscribe(room: string): Promise<void> {
    this.#subscribed.delete(room);
  }

  onEvent(handler: RoomEventHandler): void {
    this.#handler = handler;
  }

  async addPresence(room: string, user: PresenceUser, connId: string): Promise<boolean> {
    let users = this.#presence.get(room);
    if (!users) this.#presence.set(room, (users = new Map()));
    const entry = users.get(user.id);
    if (!entry) {
      users.set(user.id, { user, conns: connId });
      return true;
    }
    if (typeof entry.conns !== 'string') entry.conns.add(connId);
    else if (entry.conns !== connId) entry.conns = new Set([entry.conns, connId]);
    return false;
  }

  async removePresence(room: string, user: PresenceUser, connId: string): Promise<boolean> {
    const users = this.#presence.get(room);
    const entry = users?.get(user.id);
    if (!users || !entry) return false;
    const conns = entry.conns;
    if (typeof conns !== 'string') {
      if (!conns.delete(connId)) return false;
      // Back to one connection: drop the set.
      if (conns.size === 1) entry.conns = conns.values().next().value!;
      return false;
    }
    if (conns !== connId) return false;
    users.delete(user.id);
    if (users.size === 0) this.#presence.delete(room);
    return true;
  }

  async listPresence(room: string): Promise<PresenceUser[]> {
    const users = this.#presence.get(room);
    if (!users) return [];
    return [...users.values()].map((e) => e.user).sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
  }

  async close(): Promise<void> {
    this.#subscribed.clear();
    this.#presence.clear();
  }
}

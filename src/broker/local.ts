import type { Broker, PresenceUser, RoomEvent, RoomEventHandler } from './types.js';

/** The broker of a single node: events go straight back to this process, presence is a map. */
export class LocalBroker implements Broker {
  #handler: RoomEventHandler | undefined;
  readonly #subscribed = new Set<string>();
  /** room -> user id -> (user, connection ids) */
  readonly #presence = new Map<string, Map<number, { user: PresenceUser; conns: Set<string> }>>();

  async publish(room: string, event: RoomEvent): Promise<void> {
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
    if (entry) {
      entry.conns.add(connId);
      return false;
    }
    users.set(user.id, { user, conns: new Set([connId]) });
    return true;
  }

  async removePresence(room: string, user: PresenceUser, connId: string): Promise<boolean> {
    const users = this.#presence.get(room);
    const entry = users?.get(user.id);
    if (!users || !entry || !entry.conns.delete(connId)) return false;
    if (entry.conns.size > 0) return false;
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

/**
 * The rooms of a `parley chat` session: which one is current (where plain lines go), which ones were
 * asked for and have not answered yet, and where to go back to when a /join is refused.
 */
import type { ParleyClient } from '../client/index.js';

export class ChatRooms {
  readonly #client: ParleyClient;
  readonly #onSwitch: (room: string | undefined) => void;
  #current: string | undefined;
  /** The current room before the last /join, to go back to if the server refuses it. */
  #previous: string | undefined;
  /**
   * Rooms this client asked for with /join (or --room) while it was not in them, whose first list
   * has not come yet: that list is the one shown (the lists after each reconnect are not), and a
   * room not found is created once (`create`). A DM room entered by an incoming message, or a /join
   * of a room already joined, is never here: no answer of theirs is to be shown.
   */
  readonly #asked = new Map<string, 'join' | 'create'>();

  /** `onSwitch` is told each time the current room changes. */
  constructor(client: ParleyClient, firstRoom: string, onSwitch: (room: string | undefined) => void) {
    this.#client = client;
    this.#onSwitch = onSwitch;
    this.#current = firstRoom;
    this.#asked.set(firstRoom, 'join');
    client.join(firstRoom);
  }

  get current(): string | undefined {
    return this.#current;
  }

  /** /join ROOM: it becomes the current room. True when this client was not in it (an answer is due). */
  join(room: string): boolean {
    const isNew = !this.#client.joinedRooms.includes(room);
    if (isNew) {
      this.#asked.set(room, 'join');
      this.#client.join(room);
    }
    this.#previous = this.#current;
    this.#switchTo(room);
    return isNew;
  }

  /** `room`'s list came. True when it answers a join this client asked for: who is there, and the recent messages, are shown. */
  listed(room: string): boolean {
    return this.#asked.delete(room);
  }

  /** True while `room` was asked for and has not answered. */
  isAsked(room: string): boolean {
    return this.#asked.has(room);
  }

  /** The server has no `room`: true when it is to be created (once, for a room asked for). */
  createMissing(room: string): boolean {
    if (this.#asked.get(room) !== 'join') return false;
    this.#asked.set(room, 'create');
    return true;
  }

  /** Creating `room` failed: if it was the current room, another joined room is. */
  createFailed(room: string): void {
    this.#asked.delete(room);
    if (this.#current === room) this.#switchTo(this.#anyJoined());
  }

  /**
   * The server refused `room` while it was being joined: the client is not in it. True when it was
   * the current room: the one before it (or another joined room) is current again.
   */
  refused(room: string): boolean {
    this.#asked.delete(room);
    this.#client.leave(room);
    if (this.#current !== room) return false;
    const previous = this.#previous;
    this.#switchTo(previous !== room && previous !== undefined && this.#client.joinedRooms.includes(previous) ? previous : this.#anyJoined());
    return true;
  }

  /** /leave [ROOM]: the room left, or undefined when this client is not in it. */
  leave(room = this.#current): string | undefined {
    if (room === undefined || !this.#client.joinedRooms.includes(room)) return undefined;
    this.#client.leave(room);
    this.#asked.delete(room);
    if (room === this.#current) this.#switchTo(this.#anyJoined());
    return room;
  }

  /** A joined room that is not a DM, if any. */
  #anyJoined(): string | undefined {
    return this.#client.joinedRooms.find((r) => !r.startsWith('dm:'));
  }

  #switchTo(room: string | undefined): void {
    this.#current = room;
    this.#onSwitch(room);
  }
}

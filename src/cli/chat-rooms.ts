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
  /** Rooms asked for with /join (or --room) whose list has not come yet: created when missing. */
  readonly #joining = new Set<string>();
  readonly #listShown = new Set<string>();

  /** `onSwitch` is told each time the current room changes. */
  constructor(client: ParleyClient, firstRoom: string, onSwitch: (room: string | undefined) => void) {
    this.#client = client;
    this.#onSwitch = onSwitch;
    this.#current = firstRoom;
    this.#joining.add(firstRoom);
    client.join(firstRoom);
  }

  get current(): string | undefined {
    return this.#current;
  }

  /** /join ROOM: it becomes the current room. True when this client was not in it (an answer is due). */
  join(room: string): boolean {
    this.#listShown.delete(room);
    const isNew = !this.#client.joinedRooms.includes(room);
    this.#joining.add(room);
    this.#client.join(room);
    this.#previous = this.#current;
    this.#switchTo(room);
    return isNew;
  }

  /** `room`'s list came. True when it is to be shown: once per /join, not after each reconnect. */
  listed(room: string): boolean {
    this.#joining.delete(room);
    const show = !this.#listShown.has(room);
    this.#listShown.add(room);
    return show;
  }

  isJoining(room: string): boolean {
    return this.#joining.has(room);
  }

  /** `room` did not exist and is being created: a second "not found" for it is a refusal. */
  creating(room: string): void {
    this.#joining.delete(room);
  }

  /** Creating `room` failed: if it was the current room, another joined room is. */
  createFailed(room: string): void {
    if (this.#current === room) this.#switchTo(this.#anyJoined());
  }

  /**
   * The server refused `room` while it was being joined: the client is not in it. True when it was
   * the current room: the one before it (or another joined room) is current again.
   */
  refused(room: string): boolean {
    this.#joining.delete(room);
    this.#client.leave(room);
    this.#listShown.delete(room);
    if (this.#current !== room) return false;
    const previous = this.#previous;
    this.#switchTo(previous !== room && previous !== undefined && this.#client.joinedRooms.includes(previous) ? previous : this.#anyJoined());
    return true;
  }

  /** /leave [ROOM]: the room left, or undefined when this client is not in it. */
  leave(room = this.#current): string | undefined {
    if (room === undefined || !this.#client.joinedRooms.includes(room)) return undefined;
    this.#client.leave(room);
    this.#listShown.delete(room);
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

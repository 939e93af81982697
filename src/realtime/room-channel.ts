/**
 * One room as seen by one node: the local subscribers and the node's position in the room's
 * sequence (its messages and its edit, delete and react events, which share the ids). Entries from
 * the broker are put in id order here, once per node: a gap
 * (another node's message overtaken on the wire) is filled from the store before anything later
 * is delivered, and a message seen before is dropped. Each message is encoded once and the same
 * bytes go to every subscriber.
 */
import type { PresenceUser, RoomEvent } from '../broker/types.js';
import type { Store, TimelineEntry } from '../store/types.js';
import { chatFramePrefix, encodeChatFrame, encodeFrame } from './frames.js';
import { toFrame } from './history.js';

/** What a channel needs of a connection. */
export interface Receiver {
  readonly user: PresenceUser;
  push(frame: Buffer): void;
}

/** One connection's subscription to one room. */
export class Subscription {
  /**
   * 'pending' until the room's channel is ready (the subscription is not in it yet); while
   * 'replaying', live messages wait in the backlog.
   */
  state: 'pending' | 'replaying' | 'live' = 'live';
  /**
   * The highest message id sent to this connection in this room. While pending: where its replay
   * will start, or -1 to start live from the channel's position.
   */
  lastSent = 0;
  /** Allocated only while replaying. */
  backlog: Array<{ id: number; frame: Buffer }> | undefined;
  /** Bumped by every (re)join, so that an older replay still running stops. */
  generation = 0;
  /** Whether the connection counts in the room's presence (explicit joins do; DM auto-subscriptions don't). */
  present = false;

  constructor(
    readonly receiver: Receiver,
    readonly room: string,
  ) {}

  deliver(id: number, frame: Buffer): void {
    if (this.state === 'replaying') (this.backlog ??= []).push({ id, frame });
    else if (id > this.lastSent) {
      this.lastSent = id;
      this.receiver.push(frame);
    }
  }

  /** Ends a replay: sends what arrived live meanwhile and is newer than the replay, then goes live. */
  goLive(): void {
    for (const { id, frame } of this.backlog ?? []) {
      if (id > this.lastSent) {
        this.lastSent = id;
        this.receiver.push(frame);
      }
    }
    this.backlog = undefined;
    this.state = 'live';
  }
}

export class RoomChannel {
  readonly subscribers = new Set<Subscription>();
  /** The highest id delivered on this node; undefined until the channel knows where the room is. */
  #lastSeq: number | undefined;
  /** The ts of message #lastSeq, when known: a client that joins now is told it with the list. */
  #lastTs: number | undefined;
  readonly #early: TimelineEntry[] = [];
  readonly #pending = new Map<number, TimelineEntry>();
  /** The newest id the store was found to have (catchUp): the channel fills up to it even if nothing follows. */
  #known = 0;
  #filling = false;
  readonly #chatPrefix: string;

  constructor(
    readonly name: string,
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
    /** Told how many messages came from the store instead of the broker. */
    private readonly onFilled: (count: number) => void = () => {},
  ) {
    this.#chatPrefix = chatFramePrefix(name);
  }

  get lastSeq(): number {
    return this.#lastSeq ?? 0;
  }

  get lastTs(): number | undefined {
    return this.#lastTs;
  }

  /** Sets the starting point (the room's last stored id and its ts, read after subscribing to the broker). */
  start(lastId: number, lastTs?: number): void {
    this.#lastSeq = lastId;
    this.#lastTs = lastTs;
    for (const m of this.#early) this.#accept(m);
    this.#early.length = 0;
    if (this.#known > lastId && !this.#filling) void this.#fill();
  }

  receive(event: RoomEvent): void {
    if (event.kind === 'chat') {
      if (this.#lastSeq === undefined) this.#early.push(event.message);
      else this.#accept(event.message);
      return;
    }
    // Read markers, mentions and news of rooms travel on user channels (and the rooms channel), never on a room's own.
    if (event.kind === 'read' || event.kind === 'mention' || event.kind === 'room') return;
    const frame = encodeFrame(
      event.kind === 'typing'
        ? { type: 'typing', room: event.room, user: event.user }
        : { type: event.kind, room: event.room, user: event.user },
    );
    for (const sub of this.subscribers) {
      // Nobody needs to be told that they themselves are typing.
      if (event.kind === 'typing' && sub.receiver.user.id === event.user.id) continue;
      sub.receiver.push(frame);
    }
  }

  /**
   * The store has messages up to `lastId`: deliver those not seen here from the store, whether or
   * not their events ever come (their node died before publishing, or the broker lost them).
   */
  catchUp(lastId: number): void {
    if (lastId <= this.#known) return;
    this.#known = lastId;
    if (this.#lastSeq !== undefined && lastId > this.#lastSeq && !this.#filling) void this.#fill();
  }

  #accept(message: TimelineEntry): void {
    const last = this.#lastSeq!;
    if (message.id <= last) return;
    if (message.id === last + 1 && !this.#filling) {
      this.#dispatch(message);
      this.#drain();
      return;
    }
    this.#pending.set(message.id, message);
    if (!this.#filling) void this.#fill();
  }

  #drain(): void {
    for (let next = this.#pending.get(this.#lastSeq! + 1); next; next = this.#pending.get(this.#lastSeq! + 1)) {
      this.#pending.delete(next.id);
      this.#dispatch(next);
    }
  }

  /**
   * Reads from the store what is missing before the first waiting message (a hole: another node's
   * message overtaken on the wire), or up to the newest id known to be stored.
   */
  async #fill(): Promise<void> {
    this.#filling = true;
    try {
      for (;;) {
        const last = this.#lastSeq!;
        // Anything at or below the position came meanwhile by another way (the fill itself, a retry).
        for (const id of this.#pending.keys()) if (id <= last) this.#pending.delete(id);
        if (this.#pending.has(last + 1)) {
          this.#drain();
          continue;
        }
        const want = this.#pending.size > 0 ? Math.min(...this.#pending.keys()) - 1 : this.#known;
        if (want <= last) break;
        const missing = await this.store.history(this.name, { after: last, limit: Math.min(want - last, 1000) });
        // None left (pruned): skip ahead rather than stall the room. Some: in id order, past any
        // pruned start of the hole (the ids that are gone will not come back).
        if (missing.length === 0) {
          this.#lastSeq = want;
          this.#lastTs = undefined;
        }
        let filled = 0;
        for (const m of missing) {
          if (m.id <= this.#lastSeq!) continue;
          this.#dispatch(m);
          filled++;
        }
        if (filled > 0) this.onFilled(filled);
        this.#drain();
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.#filling = false;
    }
  }

  #dispatch(message: TimelineEntry): void {
    this.#lastSeq = message.id;
    this.#lastTs = message.ts;
    if (this.subscribers.size === 0) return;
    // Messages are the per-message path, written by hand; events are rare.
    const frame = message.kind === undefined ? encodeChatFrame(this.#chatPrefix, message) : encodeFrame(toFrame(message));
    for (const sub of this.subscribers) sub.deliver(message.id, frame);
  }
}

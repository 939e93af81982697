/**
 * Which connections of this node follow which rooms, and how a connection starts following one:
 * live from now, or replaying the stored messages after an id first, with no gap and no duplicate
 * between the two. A room followed by anyone here has a RoomChannel, subscribed to the broker.
 */
import type { Broker, RoomEvent } from '../broker/types.js';
import type { Metrics } from '../metrics.js';
import type { Store, TimelineEntry } from '../store/types.js';
import type { ClientConnection } from './connection.js';
import { missingAfter, toFrame } from './history.js';
import { RoomChannel, Subscription } from './room-channel.js';

/** Messages read from the store per page of a replay. */
const REPLAY_PAGE = 500;

export interface SubscriptionsDeps {
  store: Store;
  broker: Broker;
  metrics: Metrics;
  onError(err: unknown): void;
}

export class Subscriptions {
  readonly #store: Store;
  readonly #broker: Broker;
  readonly #metrics: Metrics;
  readonly #onError: (err: unknown) => void;
  readonly #channels = new Map<string, Promise<RoomChannel>>();
  /** The channels of #channels that are ready, for the synchronous path of every broadcast. */
  readonly #ready = new Map<string, RoomChannel>();
  /** Subscriptions whose channel is being made, and the promise of their start. */
  readonly #starting = new Map<Subscription, Promise<void>>();
  /** The `at` of a pending subscription's replay start, when its join gave one. */
  readonly #startAt = new Map<Subscription, number>();
  readonly #onFilled = (count: number) => this.#metrics.messagesCaughtUp.inc(count);

  constructor(deps: SubscriptionsDeps) {
    this.#store = deps.store;
    this.#broker = deps.broker;
    this.#metrics = deps.metrics;
    this.#onError = deps.onError;
  }

  /** The rooms followed on this node now. */
  rooms(): string[] {
    return [...this.#ready.keys()];
  }

  /**
   * Subscribes the connection to the room, replaying stored messages with id > after first. The
   * subscription is registered on the connection before anything is awaited, so that a DM arriving
   * meanwhile finds it (see deliverDirect) instead of starting a second, competing one.
   */
  async subscribe(conn: ClientConnection, name: string, after: number | undefined, at?: number): Promise<Subscription> {
    let sub = conn.subscription(name);
    if (!sub) {
      sub = new Subscription(conn, name);
      sub.state = 'pending';
      sub.lastSent = after ?? -1;
      if (after !== undefined && at !== undefined) this.#startAt.set(sub, at);
      conn.addSubscription(sub);
      const starting = this.#start(conn, sub);
      this.#starting.set(sub, starting);
      try {
        await starting;
      } finally {
        this.#starting.delete(sub);
      }
      return sub;
    }
    const starting = this.#starting.get(sub);
    if (starting) {
      // Not started yet: the replay will begin where this join asks.
      if (after !== undefined && sub.state === 'pending') {
        sub.lastSent = after;
        if (at === undefined) this.#startAt.delete(sub);
        else this.#startAt.set(sub, at);
      }
      await starting;
      return sub;
    }
    if (after !== undefined) {
      const channel = this.#ready.get(name);
      if (channel) await this.#replay(conn, channel, sub, after, at);
    }
    return sub;
  }

  /** The ts of message `id` of the room, if it is the newest this node delivered (its channel knows it). */
  lastTs(room: string, id: number): number | undefined {
    const channel = this.#ready.get(room);
    return channel && channel.lastSeq === id ? channel.lastTs : undefined;
  }

  /** Stops the subscription (the connection left the room, or closed). */
  async unsubscribe(conn: ClientConnection, sub: Subscription): Promise<void> {
    conn.removeSubscription(sub);
    sub.generation++;
    const channel = await this.#channels.get(sub.room);
    channel?.subscribers.delete(sub);
    if (channel && channel.subscribers.size === 0) this.#drop(channel);
  }

  /**
   * A DM reached a user: connections of theirs that are not in that conversation yet join it quietly,
   * from this message on. A burst of DMs finds the subscription that the first one started; one that
   * overtook an earlier message on the way (another node's) moves its start back to that message.
   */
  async deliverDirect(conns: ClientConnection[], message: TimelineEntry): Promise<void> {
    const starts: Promise<Subscription>[] = [];
    for (const conn of conns) {
      if (conn.closing) continue;
      const sub = conn.subscription(message.room);
      if (sub) {
        if (sub.state === 'pending' && (sub.lastSent < 0 || message.id - 1 < sub.lastSent)) {
          sub.lastSent = message.id - 1;
          this.#startAt.delete(sub);
        }
        continue;
      }
      conn.allow(message.room);
      starts.push(this.subscribe(conn, message.room, message.id - 1));
    }
    await Promise.all(starts);
  }

  /** Sends the frame to every connection here that follows the room, but those of user `except`. */
  tell(room: string, frame: Buffer, except?: number): void {
    const channel = this.#ready.get(room);
    if (!channel) return;
    for (const sub of channel.subscribers) if (sub.receiver.user.id !== except) sub.receiver.push(frame);
  }

  /** An event of a room from the broker, for the room's channel here (if any), in the order received. */
  route(room: string, event: RoomEvent): void {
    const ready = this.#ready.get(room);
    if (ready) {
      ready.receive(event);
      return;
    }
    const pending = this.#channels.get(room);
    if (!pending) return;
    // Keep the event order: a settled channel gets it now, one being created gets it when ready.
    pending.then((channel) => channel.receive(event), () => {});
  }

  /**
   * Reads again from the store where every followed room is, and delivers what this node missed
   * (the broker lost events, or a node died between storing and publishing).
   */
  async catchUp(): Promise<void> {
    if (this.#ready.size === 0) return;
    const lastIds = await this.#store.lastIds([...this.#ready.keys()]);
    for (const [room, lastId] of lastIds) this.#ready.get(room)?.catchUp(lastId);
  }

  async #channel(name: string): Promise<RoomChannel> {
    let pending = this.#channels.get(name);
    if (!pending) {
      pending = (async () => {
        const channel = new RoomChannel(name, this.#store, this.#onError, this.#onFilled);
        // Subscribe first, then read where the room is: nothing published in between is missed.
        await this.#broker.subscribe(name);
        const room = await this.#store.getRoom(name);
        const lastId = room?.lastId ?? 0;
        // The ts of the newest message, for the lists of joins that start live here.
        const [newest] = lastId > 0 ? await this.#store.history(name, { after: lastId - 1, limit: 1 }) : [];
        channel.start(lastId, newest?.id === lastId ? newest.ts : undefined);
        this.#ready.set(name, channel);
        this.#metrics.roomsActive.set(this.#ready.size);
        return channel;
      })();
      this.#channels.set(name, pending);
      pending.catch(() => this.#channels.delete(name));
    }
    return pending;
  }

  /** Puts a pending subscription into its room's channel and replays or goes live, as it asks. */
  async #start(conn: ClientConnection, sub: Subscription): Promise<void> {
    let channel = await this.#channel(sub.room);
    // The channel may have been dropped while this waited (its last subscriber left): take the new one.
    while (this.#ready.get(sub.room) !== channel) channel = await this.#channel(sub.room);
    // Left, or closed, while the channel was being made.
    if (conn.subscription(sub.room) !== sub || conn.closing) {
      this.#startAt.delete(sub);
      return;
    }
    channel.subscribers.add(sub);
    const after = sub.lastSent;
    const at = this.#startAt.get(sub);
    this.#startAt.delete(sub);
    if (after >= 0) await this.#replay(conn, channel, sub, after, at);
    else {
      sub.lastSent = channel.lastSeq;
      sub.state = 'live';
    }
  }

  /**
   * Sends the stored messages after `after`, then the live ones that came meanwhile. `at`, the ts of
   * the client's own message `after`, tells whether the store's history is still the client's: a
   * store restored from an older backup reuses ids for new messages, which the client would take
   * for ones it has.
   */
  async #replay(conn: ClientConnection, channel: RoomChannel, sub: Subscription, after: number, at?: number): Promise<void> {
    const generation = ++sub.generation;
    sub.state = 'replaying';
    sub.backlog = undefined;
    sub.lastSent = after;
    const stale = () => sub.generation !== generation || conn.closing;
    const room = channel.name;
    const newest = Math.max(channel.lastSeq, (await this.#store.getRoom(room))?.lastId ?? 0);
    if (stale()) return;
    const diverged = at !== undefined && after > 0 && after <= newest ? await this.#divergedAt(room, after, at) : undefined;
    if (stale()) return;
    if (after > newest) {
      // The client has seen ids this room does not have: its history was restored from an older
      // backup, or reset. New messages reuse those ids, and would be skipped as already seen; so
      // say so, and go on from where the room is.
      conn.sendError('history_gap', `this room's newest message is ${newest}, not ${after}: its history was restored or reset; messages after ${newest} follow`, {
        room,
        lastId: newest,
      });
      sub.lastSent = newest;
    } else if (diverged !== undefined) {
      conn.sendError('history_gap', `this room's history went back in time (restored from an older backup) and was written again after ${diverged}: messages after ${diverged} follow`, {
        room,
        lastId: diverged,
      });
      sub.lastSent = diverged;
    } else if (await missingAfter(this.#store, room, after, newest)) {
      const oldest = await this.#store.oldestKeptId(room);
      conn.sendError('history_gap', `messages after ${after} are no longer kept; replay starts at ${oldest ?? newest + 1}`, { room });
    }
    for (;;) {
      if (stale()) return;
      const page = await this.#store.history(room, { after: sub.lastSent, limit: REPLAY_PAGE });
      if (stale()) return;
      for (const m of page) {
        if (m.id <= sub.lastSent) continue;
        sub.lastSent = m.id;
        conn.send(toFrame(m));
      }
      if (page.length < REPLAY_PAGE) break;
    }
    sub.goLive();
  }

  /**
   * Where the store's history and the client's part, when the store's message `after` is not the
   * client's (its ts is not `at`): the newest id stored before the client's message, which both
   * still share. Undefined when they agree, or when the message is no longer kept (pruned: the
   * replay's history_gap covers that).
   */
  async #divergedAt(room: string, after: number, at: number): Promise<number | undefined> {
    const [stored] = await this.#store.history(room, { after: after - 1, limit: 1 });
    if (stored === undefined || stored.id !== after || stored.ts === at) return undefined;
    return this.#store.lastIdBefore(room, at);
  }

  /**
   * A room nobody on this node follows any more stops costing anything here. The broker
   * unsubscribe is issued at once, so a later subscribe for the same room comes after it.
   */
  #drop(channel: RoomChannel): void {
    if (this.#ready.get(channel.name) !== channel) return;
    this.#ready.delete(channel.name);
    this.#channels.delete(channel.name);
    this.#metrics.roomsActive.set(this.#ready.size);
    void this.#broker.unsubscribe(channel.name).catch(this.#onError);
  }
}

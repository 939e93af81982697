/**
 * The hub: every chat connection of this node, the rooms they are subscribed to, and the one path
 * by which a message is stored, acked and fanned out. It speaks to the outside world only through
 * the Store and Broker interfaces, so the same code serves SQLite/in-process and PostgreSQL/Redis.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Broker, PresenceUser, RoomEvent } from '../broker/types.js';
import type { Metrics } from '../metrics.js';
import type { AppendResult, HistoryQuery, Room, StoredMessage, Store } from '../store/types.js';
import { AppendBatcher, type AppendCallback } from './append-batcher.js';
import { ClientConnection, type ConnectionContext } from './connection.js';
import { ChatError } from './errors.js';
import { encodeAckFrame } from './frames.js';
import { directRoomMembers } from './names.js';
import { CloseCode, refusalIds, type ChatFrame, type ClientMessage } from './protocol.js';
import { RateLimit } from './rate-limiter.js';
import { RoomChannel, Subscription } from './room-channel.js';
import type { ChatService } from './service.js';

export interface HubOptions {
  maxText: number;
  rateLimit: number;
  slowReaderBytes: number;
  heartbeatMs: number;
  /** Messages kept per room; 0 keeps all. */
  historyKeep: number;
}

export interface HubDeps {
  store: Store;
  broker: Broker;
  logger: Logger;
  metrics: Metrics;
  options: HubOptions;
}

const REPLAY_PAGE = 500;
/** Each room is pruned after this many new messages (when HISTORY_KEEP is set). */
const PRUNE_EVERY = 1000;
/** Broker channel of a user's connections on every node: DMs to the user are announced there. */
const userChannel = (id: number) => `user:${id}`;

export class ChatHub implements ChatService {
  readonly #store: Store;
  readonly #broker: Broker;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #options: HubOptions;
  readonly #batcher: AppendBatcher;
  readonly #connections = new Set<ClientConnection>();
  /** A user's connections on this node: the one connection, or a set when the user has several. */
  readonly #byUser = new Map<number, ClientConnection | Set<ClientConnection>>();
  readonly #channels = new Map<string, Promise<RoomChannel>>();
  /** The channels of #channels that are ready, for the synchronous path of every broadcast. */
  readonly #readyChannels = new Map<string, RoomChannel>();
  /** Room metadata; rooms are never deleted and their privacy never changes. */
  readonly #rooms = new Map<string, Room>();
  readonly #appendedSincePrune = new Map<string, number>();
  /** Subscriptions whose channel is being made, and the promise of their start. */
  readonly #starting = new Map<Subscription, Promise<void>>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #context: ConnectionContext;
  #closed = false;

  constructor(deps: HubDeps) {
    this.#store = deps.store;
    this.#broker = deps.broker;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    this.#options = deps.options;
    this.#batcher = new AppendBatcher(deps.store);
    this.#broker.onEvent((room, event) => this.#onBrokerEvent(room, event));
    this.#heartbeat = setInterval(() => this.#beat(), deps.options.heartbeatMs);
    this.#heartbeat.unref();
    const metrics = this.#metrics;
    this.#context = {
      rateLimit: new RateLimit(deps.options.rateLimit),
      slowReaderBytes: deps.options.slowReaderBytes,
      handle: this.#handleMessage,
      onError: (err, conn) => this.#fail(err, conn),
      onClose: (conn, code) => void this.#detach(conn, code),
      onFramesWritten(count) {
        metrics.framesWritten.count += count;
      },
      onSlowReader: (conn) => {
        metrics.slowReadersClosed.inc();
        this.#log.warn({ conn: conn.id, user: conn.user.name, ip: conn.ip }, 'slow reader cut off');
        conn.close(CloseCode.tryAgainLater, 'reader too slow');
      },
    };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  // ---------------------------------------------------------------- connections

  /**
   * Takes over an upgraded chat connection: welcomes it and serves it until it closes.
   * @param user the user as messages and presence will name them: kept, and shared by all of them
   */
  async attach(ws: WebSocket, socket: Duplex, user: PresenceUser, guest: boolean, ip: string): Promise<void> {
    const conn = new ClientConnection(ws, socket, user, guest, ip, this.#context);
    this.#connections.add(conn);
    this.#metrics.connections.set(this.#connections.size);
    if (this.#addUserConnection(conn)) void this.#broker.subscribe(userChannel(user.id)).catch((e) => this.#fail(e));
    this.#log.info({ conn: conn.id, ip, user: user.name, userId: user.id }, 'client connected');

    ws.on('error', onSocketError);
    const welcome = (async () => {
      const rooms = await this.#store.listRoomNames(user.id);
      const you = { id: user.id, name: user.name, guest };
      conn.send({ type: 'welcome', user: you, conn: { id: conn.id, ip }, rooms });
    })();
    // Frames the client sends before its welcome is out wait for it.
    conn.listen(welcome);
    try {
      await welcome;
    } catch {
      conn.close(CloseCode.internalError, 'server error');
    }
  }

  async #detach(conn: ClientConnection, code: number): Promise<void> {
    conn.closed();
    if (!this.#connections.delete(conn)) return;
    this.#metrics.connections.set(this.#connections.size);
    if (this.#removeUserConnection(conn)) void this.#broker.unsubscribe(userChannel(conn.user.id)).catch((e) => this.#fail(e));
    const seconds = conn.secondsConnected;
    this.#log.info({ conn: conn.id, ip: conn.ip, user: conn.user.name, userId: conn.user.id, code, seconds }, 'client disconnected');
    for (const sub of conn.subscriptions()) await this.#unsubscribe(conn, sub).catch((e) => this.#fail(e));
  }

  /** Records a connection of its user; true when it is the user's first on this node. */
  #addUserConnection(conn: ClientConnection): boolean {
    const id = conn.user.id;
    const conns = this.#byUser.get(id);
    if (conns === undefined) {
      this.#byUser.set(id, conn);
      return true;
    }
    if (conns instanceof Set) conns.add(conn);
    else this.#byUser.set(id, new Set([conns, conn]));
    return false;
  }

  /** Forgets a connection of its user; true when it was the user's last on this node. */
  #removeUserConnection(conn: ClientConnection): boolean {
    const id = conn.user.id;
    const conns = this.#byUser.get(id);
    if (conns === conn) {
      this.#byUser.delete(id);
      return true;
    }
    if (!(conns instanceof Set) || !conns.delete(conn)) return false;
    if (conns.size === 1) this.#byUser.set(id, conns.values().next().value!);
    return false;
  }

  #beat(): void {
    for (const conn of this.#connections) {
      if (!conn.alive) {
        this.#log.info({ conn: conn.id, user: conn.user.name, ip: conn.ip }, 'no pong: connection cut off');
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  // ---------------------------------------------------------------- client messages

  /** The hot path (a chat to a room already allowed) is synchronous; everything else is async. */
  #handleMessage = (conn: ClientConnection, message: ClientMessage): Promise<void> | undefined => {
    if (conn.closing) return undefined;
    if (message.type === 'chat' && this.#mayUse(conn, message.room)) {
      if (this.#tooLong(message.data)) conn.sendError('too_large', this.#tooLongMessage(), refusalIds(message));
      else this.#sendAndAck(conn, message.room, message.data, message.cid);
      return undefined;
    }
    return this.#handle(conn, message);
  };

  async #handle(conn: ClientConnection, message: ClientMessage): Promise<void> {
    try {
      switch (message.type) {
        case 'join':
          await this.#join(conn, message.room, message.after);
          break;
        case 'leave': {
          const sub = conn.subscription(message.room);
          if (sub) await this.#unsubscribe(conn, sub);
          break;
        }
        case 'chat': {
          this.#checkText(message.data);
          await this.#allowed(conn, message.room);
          this.#sendAndAck(conn, message.room, message.data, message.cid);
          break;
        }
        case 'dm': {
          this.#checkText(message.data);
          const room = await this.#directRoom(conn.user, message.to);
          conn.allow(room.name);
          this.#sendAndAck(conn, room.name, message.data, message.cid);
          break;
        }
        case 'history': {
          await this.#allowed(conn, message.room);
          const page = await this.#page(message.room, { before: message.before, limit: message.limit ?? 50 });
          conn.send({ type: 'history', room: message.room, data: page.data.map(toFrame), more: page.more });
          break;
        }
        case 'typing': {
          await this.#allowed(conn, message.room);
          await this.#broker.publish(message.room, { kind: 'typing', room: message.room, user: conn.user });
          break;
        }
      }
    } catch (err) {
      if (err instanceof ChatError) conn.sendError(err.code, err.message, refusalIds(message));
      else throw err;
    }
  }

  /**
   * Queues the message for the store and returns at once: the connection's next frame is handled
   * while this one is being stored, so a client's burst becomes one transaction. The queue keeps the
   * connection's order; the ack follows when the message is stored.
   */
  #sendAndAck(conn: ClientConnection, room: string, data: string, cid: string | undefined): void {
    this.#append(conn.user, room, data, cid, (err, result) => {
      if (result) {
        if (!cid) return;
        const m = result.message;
        conn.push(encodeAckFrame(cid, m.room, m.id, m.ts));
      } else if (err instanceof ChatError) conn.sendError(err.code, err.message, cid ? { cid, room } : { room });
      else this.#fail(err, conn);
    });
  }

  #tooLong(data: string): boolean {
    const max = this.#options.maxText;
    // UTF-16 length bounds the character count from above: count characters only when it must.
    return data.length > max && [...data].length > max;
  }

  #tooLongMessage(): string {
    return `message is longer than ${this.#options.maxText} characters`;
  }

  #checkText(data: string): void {
    if (this.#tooLong(data)) throw new ChatError('too_large', this.#tooLongMessage());
  }

  // ---------------------------------------------------------------- rooms and access

  async #room(name: string): Promise<Room> {
    const cached = this.#rooms.get(name);
    if (cached) return cached;
    const room = await this.#store.getRoom(name);
    if (!room) throw new ChatError('not_found', `no room "${name}"`);
    this.#rooms.set(name, room);
    return room;
  }

  async #checkAccess(user: PresenceUser, name: string): Promise<Room> {
    const room = await this.#room(name);
    if (room.private && !(await this.#store.isMember(name, user.id))) {
      throw new ChatError('forbidden', `"${name}" is private: members only`);
    }
    return room;
  }

  /**
   * Whether the connection may use the room, known without waiting: public rooms (cached) are open to
   * everyone, private ones are remembered per connection once found allowed.
   */
  #mayUse(conn: ClientConnection, name: string): boolean {
    const room = this.#rooms.get(name);
    return (room !== undefined && !room.private) || conn.allows(name);
  }

  async #allowed(conn: ClientConnection, name: string): Promise<void> {
    if (this.#mayUse(conn, name)) return;
    const room = await this.#checkAccess(conn.user, name);
    if (room.private) conn.allow(name);
  }

  async #directRoom(from: PresenceUser, to: number): Promise<Room> {
    if (to === from.id) throw new ChatError('bad_request', 'a direct message needs another user');
    if (!(await this.#store.getUser(to))) throw new ChatError('not_found', `no user with id ${to}`);
    const room = await this.#store.ensureDirectRoom(from.id, to);
    this.#rooms.set(room.name, room);
    return room;
  }

  // ---------------------------------------------------------------- subscriptions

  async #channel(name: string): Promise<RoomChannel> {
    let pending = this.#channels.get(name);
    if (!pending) {
      pending = (async () => {
        const channel = new RoomChannel(name, this.#store, (err) => this.#fail(err));
        // Subscribe first, then read where the room is: nothing published in between is missed.
        await this.#broker.subscribe(name);
        const room = await this.#store.getRoom(name);
        channel.start(room?.lastId ?? 0);
        this.#readyChannels.set(name, channel);
        this.#metrics.roomsActive.set(this.#readyChannels.size);
        return channel;
      })();
      this.#channels.set(name, pending);
      pending.catch(() => this.#channels.delete(name));
    }
    return pending;
  }

  async #join(conn: ClientConnection, name: string, after: number | undefined): Promise<void> {
    await this.#allowed(conn, name);
    const sub = await this.#subscribe(conn, name, after);
    if (!sub.present) {
      sub.present = true;
      const user = conn.user;
      if (await this.#broker.addPresence(name, user, conn.id)) {
        await this.#broker.publish(name, { kind: 'join', room: name, user });
      }
    }
    const data = await this.#broker.listPresence(name);
    // Every chat frame up to lastSent is queued before this list, every later one after it: a client
    // that reconnects rejoins with after = lastId even if no message came in between.
    if (conn.subscription(name) === sub) conn.send({ type: 'list', room: name, data, lastId: sub.lastSent });
  }

  /**
   * Subscribes the connection to the room, replaying stored messages with id > after first. The
   * subscription is registered on the connection before anything is awaited, so that a DM arriving
   * meanwhile finds it (see #deliverDirect) instead of starting a second, competing one.
   */
  async #subscribe(conn: ClientConnection, name: string, after: number | undefined): Promise<Subscription> {
    let sub = conn.subscription(name);
    if (!sub) {
      sub = new Subscription(conn, name);
      sub.state = 'pending';
      sub.lastSent = after ?? -1;
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
      if (after !== undefined && sub.state === 'pending') sub.lastSent = after;
      await starting;
      return sub;
    }
    if (after !== undefined) {
      const channel = this.#readyChannels.get(name);
      if (channel) await this.#replay(conn, channel, sub, after);
    }
    return sub;
  }

  /** Puts a pending subscription into its room's channel and replays or goes live, as it asks. */
  async #start(conn: ClientConnection, sub: Subscription): Promise<void> {
    let channel = await this.#channel(sub.room);
    // The channel may have been dropped while this waited (its last subscriber left): take the new one.
    while (this.#readyChannels.get(sub.room) !== channel) channel = await this.#channel(sub.room);
    // Left, or closed, while the channel was being made.
    if (conn.subscription(sub.room) !== sub || conn.closing) return;
    channel.subscribers.add(sub);
    const after = sub.lastSent;
    if (after >= 0) await this.#replay(conn, channel, sub, after);
    else {
      sub.lastSent = channel.lastSeq;
      sub.state = 'live';
    }
  }

  async #replay(conn: ClientConnection, channel: RoomChannel, sub: Subscription, after: number): Promise<void> {
    const generation = ++sub.generation;
    sub.state = 'replaying';
    sub.backlog = undefined;
    sub.lastSent = after;
    const stale = () => sub.generation !== generation || conn.closing;
    const newest = Math.max(channel.lastSeq, (await this.#store.getRoom(channel.name))?.lastId ?? 0);
    if (stale()) return;
    if (after > newest) {
      // The client has seen ids this room does not have: its history was restored from an older
      // backup, or reset. New messages reuse those ids, and would be skipped as already seen; so
      // say so, and go on from where the room is (the list's lastId tells the client).
      conn.sendError('history_gap', `this room's newest message is ${newest}, not ${after}: its history was restored or reset; messages after ${newest} follow`, {
        room: channel.name,
      });
      sub.lastSent = newest;
    } else if (await this.#missingAfter(channel.name, after, newest)) {
      const oldest = await this.#store.oldestKeptId(channel.name);
      conn.sendError('history_gap', `messages after ${after} are no longer kept; replay starts at ${oldest ?? newest + 1}`, {
        room: channel.name,
      });
    }
    for (;;) {
      if (stale()) return;
      const page = await this.#store.history(channel.name, { after: sub.lastSent, limit: REPLAY_PAGE });
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

  async #unsubscribe(conn: ClientConnection, sub: Subscription): Promise<void> {
    conn.removeSubscription(sub);
    sub.generation++;
    const channel = await this.#channels.get(sub.room);
    channel?.subscribers.delete(sub);
    if (channel && channel.subscribers.size === 0) this.#dropChannel(channel);
    if (sub.present) {
      sub.present = false;
      const user = conn.user;
      if (await this.#broker.removePresence(sub.room, user, conn.id)) {
        await this.#broker.publish(sub.room, { kind: 'left', room: sub.room, user });
      }
    }
  }

  /**
   * A room nobody on this node follows any more stops costing anything here. The broker
   * unsubscribe is issued at once, so a later subscribe for the same room comes after it.
   */
  #dropChannel(channel: RoomChannel): void {
    if (this.#readyChannels.get(channel.name) !== channel) return;
    this.#readyChannels.delete(channel.name);
    this.#channels.delete(channel.name);
    this.#metrics.roomsActive.set(this.#readyChannels.size);
    void this.#broker.unsubscribe(channel.name).catch((e) => this.#fail(e));
  }

  #onBrokerEvent(room: string, event: RoomEvent): void {
    if (room.startsWith('user:')) {
      if (event.kind === 'chat') void this.#deliverDirect(Number(room.slice(5)), event.message).catch((e) => this.#fail(e));
      return;
    }
    const ready = this.#readyChannels.get(room);
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
   * A DM reached a user: connections of theirs that are not in that conversation yet join it quietly,
   * from this message on. A burst of DMs finds the subscription that the first one started; one that
   * overtook an earlier message on the way (another node's) moves its start back to that message.
   */
  async #deliverDirect(userId: number, message: StoredMessage): Promise<void> {
    const conns = this.#byUser.get(userId);
    if (!conns) return;
    const starts: Promise<Subscription>[] = [];
    for (const conn of conns instanceof Set ? [...conns] : [conns]) {
      if (conn.closing) continue;
      const sub = conn.subscription(message.room);
      if (sub) {
        if (sub.state === 'pending' && (sub.lastSent < 0 || message.id - 1 < sub.lastSent)) sub.lastSent = message.id - 1;
        continue;
      }
      conn.allow(message.room);
      starts.push(this.#subscribe(conn, message.room, message.id - 1));
    }
    await Promise.all(starts);
  }

  // ---------------------------------------------------------------- messages

  /** Stores the message, then fans it out to every node, then calls `done` (which acks). */
  #append(user: PresenceUser, room: string, data: string, cid: string | undefined, done: AppendCallback): void {
    if (this.#closed) return done(new ChatError('internal', 'server is shutting down'), undefined);
    this.#batcher.append({ room, user, data, cid, ts: Date.now() }, (err, result) => {
      if (!result) return done(err, undefined);
      if (!result.duplicate) this.#metrics.messagesStored.inc();
      // A duplicate is published again too: if the first attempt died before its broadcast, this one fills in.
      const event: RoomEvent = { kind: 'chat', message: result.message };
      let all: Promise<unknown> | void;
      try {
        const published = this.#broker.publish(room, event);
        const members = directRoomMembers(room);
        all = members
          ? Promise.all([published, ...[...new Set(members)].map((id) => this.#broker.publish(userChannel(id), event))])
          : published;
      } catch (e) {
        // The batch's other messages still go out and are acked.
        return done(e, undefined);
      }
      if (!result.duplicate) this.#maybePrune(room);
      // The in-process broker has delivered by now; a networked one acks once the event is out.
      if (all === undefined) return done(undefined, result);
      all.then(
        () => done(undefined, result),
        (e: unknown) => done(e, undefined),
      );
    });
  }

  #maybePrune(room: string): void {
    if (this.#options.historyKeep === 0) return;
    const n = (this.#appendedSincePrune.get(room) ?? 0) + 1;
    if (n < PRUNE_EVERY && n < this.#options.historyKeep) {
      this.#appendedSincePrune.set(room, n);
      return;
    }
    this.#appendedSincePrune.set(room, 0);
    void this.#store.prune(room, this.#options.historyKeep).catch((e) => this.#fail(e));
  }

  async #page(room: string, query: HistoryQuery): Promise<{ data: StoredMessage[]; more: boolean }> {
    const rows = await this.#store.history(room, { ...query, limit: query.limit + 1 });
    if (rows.length <= query.limit) return { data: rows, more: false };
    // One row too many tells that there is more: drop it from the far end of the page.
    return query.after !== undefined && query.before === undefined
      ? { data: rows.slice(0, query.limit), more: true }
      : { data: rows.slice(1), more: true };
  }

  // ---------------------------------------------------------------- ChatService (for HTTP)

  async publish(user: PresenceUser, room: string, data: string, cid?: string): Promise<AppendResult> {
    if (data.length === 0) throw new ChatError('bad_request', 'data must not be empty');
    this.#checkText(data);
    await this.#checkAccess(user, room);
    return new Promise((resolve, reject) =>
      this.#append(pick(user), room, data, cid, (err, result) => (result ? resolve(result) : reject(err))),
    );
  }

  accessibleRoom(user: PresenceUser, room: string): Promise<Room> {
    return this.#checkAccess(user, room);
  }

  async history(user: PresenceUser, room: string, query: HistoryQuery): Promise<{ data: StoredMessage[]; more: boolean; gap?: boolean }> {
    await this.#checkAccess(user, room);
    const page = await this.#page(room, query);
    if (query.after === undefined) return page;
    // The cached room's lastId is as old as the cache: ask the store where the room is now.
    const gap = await this.#missingAfter(room, query.after, (await this.#store.getRoom(room))?.lastId ?? 0);
    return gap ? { ...page, gap } : page;
  }

  /** Whether some messages after `after` were pruned (the room's newest id is `newest`). */
  async #missingAfter(room: string, after: number, newest: number): Promise<boolean> {
    const oldest = await this.#store.oldestKeptId(room);
    return oldest === undefined ? newest > after : oldest > after + 1;
  }

  presence(room: string): Promise<PresenceUser[]> {
    return this.#broker.listPresence(room);
  }

  // ---------------------------------------------------------------- lifecycle

  #fail(err: unknown, conn?: ClientConnection): void {
    this.#log.error({ err, conn: conn?.id }, 'realtime error');
    if (conn && !(err instanceof ChatError)) conn.sendError('internal', 'the server failed to handle that message');
  }

  /** Shutdown: closes every connection with 1001 and waits for pending store writes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await this.#batcher.drain();
    for (const conn of this.#connections) conn.close(CloseCode.goingAway, 'server shutting down');
    const deadline = Date.now() + 3000;
    while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.#connections) conn.ws.terminate();
  }
}

function pick(user: PresenceUser): PresenceUser {
  return { id: user.id, name: user.name };
}

/** Socket errors end in a close event, where the connection is cleaned up; nothing to add here. */
function onSocketError(): void {}

function toFrame(m: StoredMessage): ChatFrame {
  return { type: 'chat', ...m };
}

/**
 * The hub: every chat connection of this node, and what each of their frames does. It attaches
 * upgraded connections and dispatches their messages to the parts that do the work: access checks
 * (RoomAccess), following rooms (Subscriptions), storing and fanning out (Publisher), and presence.
 * It speaks to the outside world only through the Store, Broker and Presence interfaces, so the
 * same code serves SQLite on one node and PostgreSQL with Redis on several.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import {
  ROOMS_CHANNEL,
  userChannel,
  userOfChannel,
  type Broker,
  type ChannelEvent,
  type ModerationEvent,
  type Presence,
  type PresenceUser,
  type RoomEvent,
} from '../broker/types.js';
import type { Metrics } from '../metrics.js';
import { addItem, itemsOf, removeItem, type OneOrSet } from '../one-or-set.js';
import { CloseCode } from '../protocol/close-codes.js';
import { HISTORY_PAGE_DEFAULT, SEARCH_PAGE_DEFAULT } from '../protocol/limits.js';
import { searchTerms } from '../store/search-text.js';
import type { AppendResult, AuditRecord, HistoryQuery, NewEntry, Room, SearchPage, Store, TimelineEntry, User } from '../store/types.js';
import type { AppendCallback } from './append-batcher.js';
import { bannedNow, inForce, RoomAccess, type Actor, type BannedNow } from './access.js';
import { ClientConnection, type ConnectionContext } from './connection.js';
import { MentionResolver } from './mentions.js';
import { Moderation, type ModerationRequest } from './moderation.js';
import { asRefusal, ChatError } from './errors.js';
import { encodeAckFrame, encodeFrame } from './frames.js';
import { chatFrame, historyPage, messagesPage, missingAfter } from './history.js';
import { wireUser, type ClientFrame, type ListFrame, type ModerationFrame, type ServerFrame } from '../protocol/frames.js';
import { refusalIds } from './refusal-ids.js';
import { Publisher } from './publisher.js';
import { RateLimit } from './rate-limiter.js';
import { ThrottledWarning } from './throttled-warning.js';
import type { Subscription } from './room-channel.js';
import type { ChatService } from './service.js';
import { Subscriptions } from './subscriptions.js';

export interface HubOptions {
  maxText: number;
  rateLimit: number;
  slowReaderBytes: number;
  heartbeatMs: number;
  /** Messages kept per room; 0 keeps all. */
  historyKeep: number;
  /** Names of the registered accounts that are admins (ADMINS). */
  admins?: readonly string[];
  /**
   * How often (ms) the rooms followed here are compared with the store, to deliver messages whose
   * broadcast never came (their node died between storing and publishing, or the broker was
   * down); 0 never (one node, in-process broker: nothing can be lost between the two).
   */
  catchUpMs: number;
}

export interface HubDeps {
  store: Store;
  broker: Broker;
  presence: Presence;
  logger: Logger;
  metrics: Metrics;
  options: HubOptions;
}

/**
 * How long shutdown waits for the connections to answer what they admitted and finish their close
 * handshake before it cuts them off (within the 10 s that `parley serve` gives the whole shutdown).
 */
const SHUTDOWN_CLOSE_MS = 5000;

export class ChatHub implements ChatService {
  readonly #store: Store;
  readonly #broker: Broker;
  readonly #presence: Presence;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #options: HubOptions;
  readonly #access: RoomAccess;
  readonly #subscriptions: Subscriptions;
  readonly #publisher: Publisher;
  readonly #mentions: MentionResolver;
  readonly #moderation: Moderation;
  readonly #connections = new Set<ClientConnection>();
  /** A user's connections on this node. */
  readonly #byUser = new Map<number, OneOrSet<ClientConnection>>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #catchUp: NodeJS.Timeout | undefined;
  readonly #context: ConnectionContext;
  /** While the broker is down every publish fails: one warning every 10 s, with the count. */
  readonly #unavailable = new ThrottledWarning(10_000, (error, count) =>
    this.#log.warn({ error, count }, 'the store or the broker cannot be reached: requests that need it are refused with unavailable'),
  );
  readonly #publishFailures = new ThrottledWarning(10_000, (err, count) =>
    this.#log.warn({ err, count }, 'the broker could not take events: their messages are stored and reach the other nodes by catch-up'),
  );
  #closed = false;

  constructor(deps: HubDeps) {
    this.#store = deps.store;
    this.#broker = deps.broker;
    this.#presence = deps.presence;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    this.#options = deps.options;
    const onError = (err: unknown) => this.#fail(err);
    this.#access = new RoomAccess(deps.store, deps.options.admins);
    this.#moderation = new Moderation(deps.store, this.#access, deps.broker, deps.logger);
    this.#mentions = new MentionResolver(deps.store, deps.presence);
    this.#subscriptions = new Subscriptions({ store: deps.store, broker: deps.broker, metrics: deps.metrics, onError });
    this.#publisher = new Publisher({
      store: deps.store,
      broker: deps.broker,
      metrics: deps.metrics,
      historyKeep: deps.options.historyKeep,
      onError,
      onPublishFailure: (err) => this.#publishFailures.report(err),
    });
    this.#broker.listen({
      event: (channel, event) => this.#onBrokerEvent(channel, event),
      resync: () => {
        this.#metrics.brokerResyncs.inc();
        this.#log.info('broker subscriptions restored: reading the followed rooms again from the store');
        // A user who connected while the broker was down has no user channel yet (its subscribe failed).
        for (const id of this.#byUser.keys()) void this.#broker.subscribe(userChannel(id)).catch(onError);
        // Moderation events may have been missed too: every room's rules are read again.
        this.#access.forgetAll();
        void this.#subscriptions.catchUp().catch(onError);
      },
    });
    void this.#broker.subscribe(ROOMS_CHANNEL).catch(onError);
    if (deps.options.catchUpMs > 0) {
      this.#catchUp = setInterval(() => void this.#subscriptions.catchUp().catch(onError), deps.options.catchUpMs);
      this.#catchUp.unref();
    }
    this.#presence.onExpired((room, user) => {
      void Promise.resolve(this.#broker.publish(room, { kind: 'left', room, user })).catch(onError);
    });
    this.#presence.onReturned((room, user) => {
      void Promise.resolve(this.#broker.publish(room, { kind: 'join', room, user })).catch(onError);
    });
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
   * Takes over an upgraded chat connection: welcomes it and serves it until it closes, or until its
   * session ends (endSessions).
   * @param user the user as messages and presence will name them: kept, and shared by all of them
   */
  async attach(ws: WebSocket, socket: Duplex, user: PresenceUser, guest: boolean, session: string, ip: string): Promise<void> {
    const conn = new ClientConnection(ws, socket, user, guest, session, ip, this.#context);
    this.#connections.add(conn);
    this.#metrics.connections.set(this.#connections.size);
    const others = this.#byUser.get(user.id);
    this.#byUser.set(user.id, addItem(others, conn));
    if (others === undefined) void this.#broker.subscribe(userChannel(user.id)).catch((e) => this.#fail(e));
    this.#log.info({ conn: conn.id, ip, user: user.name, userId: user.id }, 'client connected');

    ws.on('error', onSocketError);
    const welcome = (async () => {
      const { rooms, read, moderation } = await this.#store.welcomeRooms(user.id, Date.now());
      const you = { id: user.id, name: user.name, guest };
      const frame: Extract<ServerFrame, { type: 'welcome' }> = { type: 'welcome', user: you, conn: { id: conn.id, ip }, rooms, read };
      // Only what applies: most users moderate nothing and are banned nowhere.
      if (this.#access.isAdmin({ ...user, guest })) frame.admin = true;
      if (this.#access.adminNames.length > 0) frame.admins = [...this.#access.adminNames];
      const roles: Record<string, 'owner' | 'moderator'> = {};
      for (const room of moderation.moderates) roles[room] = 'moderator';
      for (const room of moderation.owns) roles[room] = 'owner';
      if (moderation.owns.length + moderation.moderates.length > 0) frame.roles = roles;
      for (const r of moderation.restrictions) {
        const ban = r.kind === 'ban';
        (ban ? (frame.banned ??= {}) : (frame.muted ??= {}))[r.room] = r.until ?? null;
        // So that a page reloaded while muted or banned still says by whom.
        if (r.by) (ban ? (frame.bannedBy ??= {}) : (frame.mutedBy ??= {}))[r.room] = r.by;
      }
      conn.send(frame);
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
    const id = conn.user.id;
    const left = removeItem(this.#byUser.get(id), conn);
    if (left === undefined) {
      this.#byUser.delete(id);
      void this.#broker.unsubscribe(userChannel(id)).catch((e) => this.#fail(e));
    } else this.#byUser.set(id, left);
    const seconds = conn.secondsConnected;
    this.#log.info({ conn: conn.id, ip: conn.ip, user: conn.user.name, userId: id, code, seconds }, 'client disconnected');
    for (const sub of conn.subscriptions()) await this.#leave(conn, sub).catch((e) => this.#fail(e));
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

  /**
   * The hot path (a chat to a room already allowed, naming nobody) is synchronous; everything else
   * is async, and the connection's next frame waits for it, so its messages keep their order.
   */
  #handleMessage = (conn: ClientConnection, message: ClientFrame): Promise<void> | undefined => {
    if (conn.gone) return undefined;
    if (message.type === 'chat' && !MentionResolver.mayMention(message.data) && this.#access.mayUse(conn, message.room, true)) {
      if (this.#tooLong(message.data)) conn.sendError('too_large', this.#tooLongMessage(), refusalIds(message));
      else this.#sendAndAck(conn, message.room, message.data, message.cid, message.reply, undefined);
      return undefined;
    }
    return this.#handle(conn, message);
  };

  async #handle(conn: ClientConnection, message: ClientFrame): Promise<void> {
    try {
      switch (message.type) {
        case 'join':
          await this.#join(conn, message.room, message.after, message.at);
          break;
        case 'leave': {
          const sub = conn.subscription(message.room);
          if (sub) await this.#leave(conn, sub);
          break;
        }
        case 'chat': {
          this.#checkText(message.data);
          await this.#access.allow(conn, message.room, true);
          const mentions = await this.#named(await this.#access.room(message.room), message.data, conn.user);
          this.#sendAndAck(conn, message.room, message.data, message.cid, message.reply, mentions);
          break;
        }
        case 'dm': {
          this.#checkText(message.data);
          const room = await this.#access.directRoom(conn.user, message.to);
          conn.allow(room.name);
          this.#sendAndAck(conn, room.name, message.data, message.cid, undefined, await this.#named(room, message.data, conn.user));
          break;
        }
        case 'history': {
          await this.#access.allow(conn, message.room);
          const page = await messagesPage(this.#store, message.room, { before: message.before, limit: message.limit ?? HISTORY_PAGE_DEFAULT });
          const answer = { type: 'history' as const, room: message.room, data: page.data.map(chatFrame), more: page.more, lastId: page.lastId };
          conn.send(message.rid === undefined ? answer : { ...answer, rid: message.rid });
          break;
        }
        case 'typing': {
          await this.#access.allow(conn, message.room, true);
          await this.#broker.publish(message.room, { kind: 'typing', room: message.room, user: conn.user });
          break;
        }
        case 'edit': {
          this.#checkText(message.data);
          await this.#access.allow(conn, message.room, true);
          const { room, target, data, cid } = message;
          this.#storeAndAck(conn, { kind: 'edit', room, user: conn.user, target, data, cid, ts: Date.now() });
          break;
        }
        case 'delete': {
          // A muted user may still take their own message down.
          await this.#access.allow(conn, message.room);
          const { room, target, cid } = message;
          const anyAuthor = await this.#access.mayDeleteAnyMessage(actorOf(conn), await this.#access.room(room));
          // Whose message it is, for the audit log, when it may be someone else's.
          const author = anyAuthor ? (await this.#store.history(room, { after: target - 1, limit: 1 }))[0] : undefined;
          const other = author && author.id === target && author.kind === undefined && author.user.id !== conn.user.id ? author.user : undefined;
          this.#storeAndAck(conn, { kind: 'delete', room, user: conn.user, target, cid, anyAuthor, ts: Date.now() }, other && (() => this.#moderation.deleted(conn.user, room, other)));
          break;
        }
        case 'kick':
        case 'ban':
        case 'unban':
        case 'mute':
        case 'unmute':
        case 'role': {
          const event = await this.#moderation.act(actorOf(conn), moderationRequest(message));
          if (message.cid !== undefined) conn.push(encodeAckFrame(message.cid, message.room, 0, event.ts));
          break;
        }
        case 'react': {
          await this.#access.allow(conn, message.room, true);
          const { room, target, emoji, cid } = message;
          this.#storeAndAck(conn, { kind: 'react', room, user: conn.user, target, emoji, on: message.on ?? true, cid, ts: Date.now() });
          break;
        }
        case 'search': {
          const { q, room, before, limit, rid } = message;
          if (room !== undefined) await this.#access.allow(conn, room);
          const page = await this.#search(conn.user, { q, room, before, limit: limit ?? SEARCH_PAGE_DEFAULT });
          const answer = { type: 'search' as const, q, data: page.data.map(chatFrame), more: page.more };
          conn.send(rid === undefined ? answer : { ...answer, rid });
          break;
        }
        case 'read': {
          await this.#access.allow(conn, message.room);
          const id = await this.#store.setReadMarker(conn.user.id, message.room, message.id);
          // Only a marker that went up is news to the user's other connections.
          if (id !== undefined) await this.#broker.publish(userChannel(conn.user.id), { kind: 'read', room: message.room, id, conn: conn.id });
          break;
        }
      }
    } catch (err) {
      const refusal = asRefusal(err);
      if (refusal) conn.sendError(refusal.code, refusal.message, refusalIds(message));
      else throw err;
    }
  }

  /** The users the text names, if it may name any (see MentionResolver). */
  async #named(room: Room, data: string, sender: PresenceUser): Promise<number[] | undefined> {
    return MentionResolver.mayMention(data) ? this.#mentions.resolve(room, data, sender) : undefined;
  }

  /**
   * Queues the message for the store; the ack follows when it is stored and published. The
   * connection does not send its close frame before this answer (ack or error) is out.
   */
  #sendAndAck(conn: ClientConnection, room: string, data: string, cid: string | undefined, reply: number | undefined, mentions: number[] | undefined): void {
    conn.expectAnswer();
    const done: AppendCallback = (err, result) => this.#answer(conn, room, cid, err, result);
    if (reply === undefined && mentions === undefined) this.#publisher.append(conn.user, room, data, cid, done);
    else this.#publisher.appendEntry({ room, user: conn.user, data, cid, reply, mentions, ts: Date.now() }, done);
  }

  /** Queues an entry (an event) for the store; acked like a message, or refused on its own. `then` follows a stored one. */
  #storeAndAck(conn: ClientConnection, entry: NewEntry, then?: () => Promise<void>): void {
    conn.expectAnswer();
    this.#publisher.appendEntry(entry, (err, result) => {
      this.#answer(conn, entry.room, entry.cid, err, result);
      if (then && result?.message && !result.duplicate) void then().catch((e) => this.#fail(e));
    });
  }

  /** Tells the sender how its entry went (an ack when it has a cid, or the error), and that it is answered. */
  #answer(conn: ClientConnection, room: string, cid: string | undefined, err: unknown, result: AppendResult | undefined): void {
    if (result) {
      if (result.refused) conn.sendError(result.refused.code, result.refused.message, cid ? { cid, room } : { room });
      else if (cid) conn.push(encodeAckFrame(cid, result.message.room, result.message.id, result.message.ts));
    } else {
      const refusal = asRefusal(err);
      if (refusal) conn.sendError(refusal.code, refusal.message, cid ? { cid, room } : { room });
      else this.#fail(err, conn);
    }
    conn.answered();
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

  // ---------------------------------------------------------------- rooms and presence

  async #join(conn: ClientConnection, name: string, after: number | undefined, at: number | undefined): Promise<void> {
    await this.#access.allow(conn, name);
    const sub = await this.#subscriptions.subscribe(conn, name, after, at);
    if (!sub.present) {
      sub.present = true;
      const user = conn.user;
      if (await this.#presence.add(name, user, conn.id)) {
        await this.#broker.publish(name, { kind: 'join', room: name, user });
      }
    }
    const data = await this.#presence.list(name);
    // Every chat frame up to lastSent is queued before this list, every later one after it: a client
    // that reconnects rejoins with after = lastId even if no message came in between.
    // With the ts of that message, when known, which the client sends back as `at` when it rejoins.
    const extra = await this.#roomRoles(name, conn);
    if (conn.subscription(name) !== sub) return;
    const lastTs = this.#subscriptions.lastTs(name, sub.lastSent);
    const list: Extract<ServerFrame, { type: 'list' }> = { type: 'list', room: name, data, lastId: sub.lastSent };
    if (lastTs !== undefined) list.lastTs = lastTs;
    conn.send({ ...list, ...extra });
  }

  /**
   * Who owns and moderates the room, who is muted in it now, and, to a connection whose user
   * moderates it, who is banned from it now (for the list frame; only what applies). All of it
   * comes from the room's cached rules: no store call of its own.
   */
  async #roomRoles(name: string, conn: ClientConnection): Promise<Pick<ListFrame, 'roles' | 'muted' | 'banned'>> {
    const room = await this.#access.room(name);
    if (room.direct) return {};
    const rules = await this.#access.rules(name);
    const extra: Pick<ListFrame, 'roles' | 'muted' | 'banned'> = {};
    for (const id of rules.moderators) (extra.roles ??= {})[id] = 'moderator';
    if (room.createdBy !== null) (extra.roles ??= {})[room.createdBy] = 'owner';
    const now = Date.now();
    for (const [id, until] of rules.mutes) if (inForce(rules.mutes, id, now)) (extra.muted ??= {})[id] = until ?? null;
    // Only those who moderate the room are told who is banned from it (see docs/protocol.md, list).
    if (rules.bans.size === 0 || (await this.#access.roleOf({ ...conn.user, guest: conn.guest }, room)) === 'member') return extra;
    const banned = bannedNow(rules, now);
    if (banned.length > 0) extra.banned = banned;
    return extra;
  }

  async #leave(conn: ClientConnection, sub: Subscription): Promise<void> {
    await this.#subscriptions.unsubscribe(conn, sub);
    if (!sub.present) return;
    sub.present = false;
    const user = conn.user;
    if (await this.#presence.remove(sub.room, user, conn.id)) {
      await this.#broker.publish(sub.room, { kind: 'left', room: sub.room, user });
    }
  }

  #onBrokerEvent(channel: string, event: ChannelEvent): void {
    if (event.kind === 'room') return this.#tellRoom(channel, event.room, event.private);
    if (event.kind === 'moderation') return this.#onModeration(event);
    const userId = userOfChannel(channel);
    if (event.kind === 'sessions_ended') {
      if (userId !== undefined) this.#closeSessions(userId, event.session, event.banned === true);
      return;
    }
    if (userId === undefined) return this.#subscriptions.route(channel, event);
    const conns = itemsOf(this.#byUser.get(userId));
    if (conns.length === 0) return;
    switch (event.kind) {
      case 'chat':
        void this.#subscriptions.deliverDirect(conns, event.message).catch((e) => this.#fail(e));
        return;
      case 'read':
        // The connection that read knows; the user's others (every node, every tab) are told.
        for (const conn of conns) if (conn.id !== event.conn) conn.send({ type: 'read', room: event.room, id: event.id });
        return;
      case 'mention':
        for (const conn of conns) conn.send({ type: 'mention', room: event.room, id: event.id, user: event.user });
        return;
    }
  }

  /**
   * A moderation action was stored (on any node): the room's rules are read again; on a kick or ban
   * the user's connections here leave the room and are told; the room's other subscribers here are
   * told what happened.
   */
  #onModeration(event: ModerationEvent): void {
    const { room, action, user, by } = event;
    this.#access.forget(room);
    const removed = action === 'kick' || action === 'ban';
    if (removed) {
      const frame: ServerFrame = action === 'kick' ? { type: 'kicked', room, by } : event.until === undefined ? { type: 'banned', room, by } : { type: 'banned', room, by, until: event.until };
      for (const conn of itemsOf(this.#byUser.get(user.id))) {
        if (conn.closing) continue;
        conn.disallow(room);
        conn.send(frame);
        const sub = conn.subscription(room);
        if (sub) void this.#leave(conn, sub).catch((e) => this.#fail(e));
      }
    }
    const frame: ServerFrame = { type: 'moderation', room, action, user, by, ts: event.ts };
    if (event.until !== undefined) frame.until = event.until;
    if (event.role !== undefined) frame.role = event.role;
    this.#subscriptions.tell(room, encodeFrame(frame), removed ? user.id : undefined);
  }

  /** A room appeared: to every connection here (a public room), or to the user's (one they were added to). */
  #tellRoom(channel: string, room: string, isPrivate: boolean): void {
    const frame = encodeFrame({ type: 'room', room, private: isPrivate });
    const userId = userOfChannel(channel);
    const conns = channel === ROOMS_CHANNEL ? this.#connections : itemsOf(this.#byUser.get(userId ?? 0));
    for (const conn of conns) if (!conn.closing) conn.push(frame);
  }

  // ---------------------------------------------------------------- ChatService (for HTTP)

  async publish(user: PresenceUser, room: string, data: string, cid?: string): Promise<{ message: TimelineEntry; duplicate: boolean }> {
    if (data.length === 0) throw new ChatError('bad_request', 'data must not be empty');
    this.#checkText(data);
    const where = await this.#access.check(user, room, true);
    const sender = wireUser(user);
    const mentions = await this.#named(where, data, sender);
    return new Promise((resolve, reject) =>
      this.#publisher.appendEntry({ room, user: sender, data, cid, mentions, ts: Date.now() }, (err, result) => {
        if (!result) reject(err);
        else if (result.refused) reject(new ChatError(result.refused.code, result.refused.message));
        else resolve({ message: result.message, duplicate: result.duplicate });
      }),
    );
  }

  async search(user: PresenceUser, query: { q: string; room?: string; before?: number; limit: number }): Promise<SearchPage> {
    if (query.room !== undefined) await this.#access.check(user, query.room);
    return this.#search(user, query);
  }

  /** A search over the rooms the user may read (or the one room given, which the caller has checked). */
  async #search(user: PresenceUser, query: { q: string; room?: string; before?: number; limit: number }): Promise<SearchPage> {
    if (searchTerms(query.q).length === 0) throw new ChatError('bad_request', 'q must have something to look for');
    return this.#store.search({ userId: user.id, ...query });
  }

  accessibleRoom(user: PresenceUser, room: string): Promise<Room> {
    return this.#access.check(user, room);
  }

  async history(user: PresenceUser, room: string, query: HistoryQuery): Promise<{ data: TimelineEntry[]; more: boolean; gap?: boolean; lastId?: number }> {
    await this.#access.check(user, room);
    const page = await historyPage(this.#store, room, query);
    if (query.after === undefined) return page;
    // The cached room's lastId is as old as the cache: ask the store where the room is now.
    const gap = await missingAfter(this.#store, room, query.after, (await this.#store.getRoom(room))?.lastId ?? 0);
    return gap ? { ...page, gap } : page;
  }

  presence(room: string): Promise<PresenceUser[]> {
    return this.#presence.list(room);
  }

  async roomCreated(room: Room): Promise<void> {
    const event: RoomEvent = { kind: 'room', room: room.name, private: room.private };
    if (!room.private) await this.#broker.publish(ROOMS_CHANNEL, event);
    else if (room.createdBy !== null) await this.#broker.publish(userChannel(room.createdBy), event);
  }

  async memberAdded(room: Room, userId: number): Promise<void> {
    await this.#broker.publish(userChannel(userId), { kind: 'room', room: room.name, private: room.private });
  }

  async endSessions(userId: number, session?: string, banned = false): Promise<void> {
    this.#closeSessions(userId, session, banned);
    // The other nodes hear it on the user's channel, which each of them follows while it has a
    // connection of the user.
    const event = { kind: 'sessions_ended' as const, ...(session === undefined ? {} : { session }), ...(banned ? { banned: true as const } : {}) };
    try {
      await this.#broker.publish(userChannel(userId), event);
    } catch (err) {
      this.#log.warn({ err, userId }, 'the broker could not take an ended session: its connections on other nodes stay open until they reconnect');
    }
  }

  /** Closes the user's connections on this node of the ended session, or of all their sessions (4003 for a ban everywhere). */
  #closeSessions(userId: number, session: string | undefined, banned: boolean): void {
    for (const conn of itemsOf(this.#byUser.get(userId))) {
      if (banned) conn.close(CloseCode.bannedEverywhere, 'banned');
      else if (session === undefined || conn.session === session) conn.close(CloseCode.sessionEnded, 'session ended');
    }
  }

  moderate(actor: Actor, request: ModerationRequest): Promise<ModerationEvent> {
    return this.#moderation.act(actor, request);
  }

  audit(actor: Actor, room: string, limit: number): Promise<AuditRecord[]> {
    return this.#moderation.audit(actor, room, limit);
  }

  bans(actor: Actor, room: string): Promise<BannedNow> {
    return this.#moderation.bans(actor, room);
  }

  async banEverywhere(actor: Actor, userId: number, banned: boolean): Promise<User> {
    const user = await this.#moderation.banEverywhere(actor, userId, banned);
    if (banned) await this.endSessions(user.id, undefined, true);
    return user;
  }

  // ---------------------------------------------------------------- lifecycle

  #fail(err: unknown, conn?: ClientConnection): void {
    // A store or broker that is away fails everything for a while: a warning now and then says it.
    const refusal = asRefusal(err);
    if (refusal?.code === 'unavailable') this.#unavailable.report(refusal.message);
    else this.#log.error({ err, conn: conn?.id }, 'realtime error');
    if (conn && !(err instanceof ChatError)) conn.sendError(refusal?.code ?? 'internal', refusal?.message ?? 'the server failed to handle that message');
  }

  /**
   * Shutdown: every connection stops taking frames, answers those it took (storing their messages),
   * and closes with 1001; then the store writes still pending (from HTTP) are finished.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#catchUp);
    for (const conn of this.#connections) conn.close(CloseCode.goingAway, 'server shutting down');
    const deadline = Date.now() + SHUTDOWN_CLOSE_MS;
    while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.#connections) conn.ws.terminate();
    await this.#publisher.close();
  }
}

function actorOf(conn: ClientConnection): Actor {
  return { id: conn.user.id, name: conn.user.name, guest: conn.guest };
}

function moderationRequest(frame: ModerationFrame): ModerationRequest {
  const request: ModerationRequest = { action: frame.type, room: frame.room, user: frame.user };
  if (frame.cid !== undefined) request.cid = frame.cid;
  if ((frame.type === 'ban' || frame.type === 'mute') && frame.minutes !== undefined) request.minutes = frame.minutes;
  if (frame.type === 'role') request.role = frame.role;
  return request;
}

/** Socket errors end in a close event, where the connection is cleaned up; nothing to add here. */
function onSocketError(): void {}

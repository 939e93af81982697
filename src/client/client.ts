/**
 * ParleyClient: one chat connection that survives disconnects. It reconnects with backoff, rejoins
 * every room with `after` = the last id it delivered, delivers each room's messages once and in id
 * order, and retries unacked sends with their `cid` so that a retry never makes a duplicate.
 */
import { CloseCode } from '../protocol/close-codes.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { me } from './http.js';
import { newCid } from './cid.js';
import { RoomCursor } from './room-cursor.js';
import { openTransport, type Transport, type WebSocketConstructor } from './transport.js';
import {
  parseServerFrame,
  toChatMessage,
  type Ack,
  type ChatMessage,
  type ClientFrame,
  type DeleteFrame,
  type EditFrame,
  type ReactFrame,
  type SelfUser,
  type ServerFrame,
  type WelcomeFrame,
  type WireUser,
} from './types.js';
import { httpBaseUrl, webSocketUrl } from './url.js';

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ClientState;
  /** For 'reconnecting': the number of this attempt (1, 2, …) and the delay before it. */
  attempt?: number;
  delayMs?: number;
  /** Why the connection went away, when known. */
  reason?: string;
}

export interface ClientEvents {
  welcome: WelcomeFrame;
  /** A room message; each room's messages and events arrive once and in id order. */
  chat: ChatMessage;
  /** Message `target` of the room now reads `data` (see Timeline to fold events into messages). */
  edit: EditFrame;
  /** Message `target` of the room was deleted. */
  delete: DeleteFrame;
  /** `user` added (`on`) or took back `emoji` on message `target`. */
  react: ReactFrame;
  /** You read `room` up to `id` on another connection (another tab or device): see readMarkers. */
  read: { room: string; id: number };
  /** Message `id` of `room`, by `user`, names you (`@name`); on every connection of yours, joined or not. */
  mention: { room: string; id: number; user: WireUser };
  join: { room: string; user: WireUser };
  left: { room: string; user: WireUser };
  /** `lastId`: the last message id of the room at the point the subscription starts (newer servers send it). */
  /**
   * `roles`: the room's owner and moderators by user id (present or not); `muted`: who is muted now,
   * until when (null: until lifted); `banned` (to those who moderate the room): who is banned from it now.
   */
  list: { room: string; data: WireUser[]; lastId?: number } & Pick<Extract<ServerFrame, { type: 'list' }>, 'roles' | 'muted' | 'banned'>;
  typing: { room: string; user: WireUser };
  /** A room you can see now appeared (a new public room, or a private one you were added to); `rooms` has it. */
  room: { room: string; private: boolean };
  /** You were kicked out of the room by `by`: the client left it (join again to come back, unless it is private). */
  kicked: { room: string; by: WireUser };
  /** You are banned from the room by `by`, until `until` (absent: until lifted): the client left it. */
  banned: { room: string; by: WireUser; until?: number };
  /** What a moderator, owner or admin did in a room you follow (a mute, a role, a delete…). */
  moderation: Extract<ServerFrame, { type: 'moderation' }>;
  /** An error frame that is not the answer to a send (those reject the send's promise instead). */
  error: { code: string; message: string; cid?: string; room?: string };
  /** The server no longer has some messages of the room; delivery continues from the oldest it has. */
  history_gap: { room: string; message: string };
  /**
   * The room's history on the server ends at `lastId`, before messages this client already had: it
   * was restored from an older backup, or reset. Those later messages are gone from the server, and
   * new messages reuse their ids; delivery goes on from `lastId`.
   */
  rewound: { room: string; lastId: number };
  state: StateChange;
  /**
   * The client stopped for good: `code` is 401/403/404 (the refused upgrade; 401 also when the
   * server ended the session, close code 4001), 4003 (an admin banned the user everywhere) or 1000 (close()).
   */
  closed: { code: number; reason: string };
}

export interface ParleyClientOptions {
  /** The server's http(s) base URL (ws(s) is accepted); the SDK connects to …/ws/chat. */
  url: string;
  /** The session token (Node, scripts). Browsers omit it: the session cookie is sent. */
  token?: string;
  /** A WebSocket class; default: the browser's, or the `ws` package in Node. */
  WebSocket?: WebSocketConstructor;
  reconnect?: BackoffOptions;
  /** How long an 'open' connection must have lasted for the backoff to start over (ms). Default 5000. */
  stableAfterMs?: number;
  /** Delay before a send refused with `rate_limited` is tried again (ms). Default 1000. */
  rateLimitRetryMs?: number;
  /**
   * Delay before a send or a join refused with `unavailable` (the server's store or broker cannot be
   * reached now) is tried again (ms). Default 2000.
   */
  unavailableRetryMs?: number;
  /**
   * Node only (browsers cannot ping): ping this often and drop a connection that answered nothing
   * for a whole interval, so a silently dead network is noticed and the client reconnects.
   * Default 30000; 0 turns it off.
   */
  keepAliveMs?: number;
}

/** A page of history: messages oldest first; `lastId`, the room's newest id when it was read. */
export interface HistoryResult {
  data: ChatMessage[];
  /** Older messages exist. */
  more: boolean;
  /** Every event up to this id is folded into `data` (a Timeline folds the later ones in again). */
  lastId?: number;
}

/** A page of search results: messages newest first; `more` when older ones match. */
export interface SearchResult {
  q: string;
  data: ChatMessage[];
  more: boolean;
}

/** An error the server answered to a request, with its stable code; `closed` when the client stopped. */
export class ParleyError extends Error {
  readonly code: string;
  readonly cid?: string;
  readonly room?: string;

  constructor(code: string, message: string, extra: { cid?: string; room?: string } = {}) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
    if (extra.cid !== undefined) this.cid = extra.cid;
    if (extra.room !== undefined) this.room = extra.room;
  }
}

interface PendingSend {
  /** Order of the call, so that what waited for a connection goes out in the order it was asked. */
  seq: number;
  frame: Extract<ClientFrame, { type: 'chat' | 'dm' | 'edit' | 'delete' | 'react' | 'kick' | 'ban' | 'unban' | 'mute' | 'unmute' | 'role' }> & { cid: string };
  resolve(ack: Ack): void;
  reject(err: Error): void;
  retryTimer?: ReturnType<typeof setTimeout>;
}

/** A request the server answers (history, search). */
interface PendingRequest {
  seq: number;
  /** Its `rid` matches the answer, and an error about it, to this request. */
  frame: Extract<ClientFrame, { type: 'history' | 'search' }> & { rid: string };
  /** Takes the answer (a frame of the request's type). */
  answer(frame: Extract<ServerFrame, { type: 'history' | 'search' }>): void;
  reject(err: Error): void;
}

/** HTTP statuses of a refused upgrade after which retrying cannot help. */
const FATAL_STATUS: Record<number, string> = {
  401: 'unauthorized: no valid session (sign in again)',
  403: 'forbidden: this origin may not connect',
  404: 'not found: no Parley chat endpoint at this URL',
};

export class ParleyClient extends Emitter<ClientEvents> {
  readonly baseUrl: string;
  #options: ParleyClientOptions;
  #state: ClientState = 'closed';
  #started = false;
  #stopped = false;
  #generation = 0;
  #transport: Transport | undefined;
  #open = false;
  #openedAt = 0;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #user: SelfUser | undefined;
  #rooms: string[] = [];
  #joined = new Map<string, RoomCursor>();
  #members = new Map<string, Map<number, WireUser>>();
  #outbox = new Map<string, PendingSend>();
  /** Requests not answered yet, by rid. */
  #requests = new Map<string, PendingRequest>();
  /** How far the user has read each room: the welcome's, then the highest told or marked since. */
  #read = new Map<string, number>();
  /** Read markers made while offline, sent on the next welcome. */
  #unsentReads = new Map<string, number>();
  #seq = 0;

  constructor(options: ParleyClientOptions) {
    super();
    this.baseUrl = httpBaseUrl(options.url);
    this.#options = options;
  }

  get state(): ClientState {
    return this.#state;
  }
  /** The signed-in user, from the last welcome. */
  get user(): SelfUser | undefined {
    return this.#user;
  }
  /** The rooms the user can see, from the last welcome. */
  get rooms(): string[] {
    return [...this.#rooms];
  }
  /** The rooms this client is subscribed to (joined, and DM rooms that received a message). */
  get joinedRooms(): string[] {
    return [...this.#joined.keys()];
  }
  /** The last id delivered in `room`, if any. */
  lastId(room: string): number | undefined {
    return this.#joined.get(room)?.last;
  }
  /** Who is in `room` now, as far as this client has been told (list, join, left). */
  members(room: string): WireUser[] {
    return [...(this.#members.get(room)?.values() ?? [])];
  }
  /**
   * How far the user has read each room (`{room: id}`), agreed across their connections: from the
   * welcome, the `read` events of their other connections, and markRead here.
   */
  get readMarkers(): Record<string, number> {
    return Object.fromEntries(this.#read);
  }
  /** Sends not acked yet (queued or in flight). */
  get pendingSends(): number {
    return this.#outbox.size;
  }

  /** Starts connecting; state events follow. Calling it again does nothing. */
  connect(): this {
    if (this.#started || this.#stopped) return this;
    this.#started = true;
    this.#setState({ state: 'connecting' });
    this.#connectNow();
    return this;
  }

  /**
   * Subscribes to `room`, now and after every reconnect. `after` replays the stored messages with a
   * greater id first (e.g. after showing history loaded over HTTP); without it only new messages come.
   */
  join(room: string, options: { after?: number } = {}): void {
    if (this.#stopped) return;
    if (this.#joined.has(room) && options.after === undefined) return;
    const cursor = new RoomCursor(options.after);
    this.#joined.set(room, cursor);
    if (this.#open) this.#sendJoin(room, cursor);
  }

  leave(room: string): void {
    this.#joined.delete(room);
    this.#members.delete(room);
    if (this.#open) this.#write({ type: 'leave', room });
  }

  /**
   * Sends a message to a room; resolves with the ack. Queued while offline, retried with the same
   * cid. `reply`: the id of the message of the room that this one answers.
   */
  send(room: string, text: string, options: { reply?: number } = {}): Promise<Ack> {
    const frame: PendingSend['frame'] = { type: 'chat', room, data: text, cid: newCid() };
    if (options.reply !== undefined) frame.reply = options.reply;
    return this.#enqueue(frame);
  }

  /** Changes the text of your message `id` of the room; acked like a send (the ack's id is the edit's). */
  edit(room: string, id: number, text: string): Promise<Ack> {
    return this.#enqueue({ type: 'edit', room, target: id, data: text, cid: newCid() });
  }

  /** Deletes your message `id` of the room: its text is erased on the server. */
  delete(room: string, id: number): Promise<Ack> {
    return this.#enqueue({ type: 'delete', room, target: id, cid: newCid() });
  }

  /** Adds (`on`, the default) or takes back your `emoji` reaction to message `id` of the room. */
  react(room: string, id: number, emoji: string, on = true): Promise<Ack> {
    return this.#enqueue({ type: 'react', room, target: id, emoji, on, cid: newCid() });
  }

  /** Kicks user `userId` out of the room (you moderate it); resolves once done (the ack's id is 0). */
  kick(room: string, userId: number): Promise<Ack> {
    return this.#enqueue({ type: 'kick', room, user: userId, cid: newCid() });
  }

  /** Bans user `userId` from the room, for `minutes` or until lifted. */
  ban(room: string, userId: number, options: { minutes?: number } = {}): Promise<Ack> {
    return this.#enqueue({ type: 'ban', room, user: userId, cid: newCid(), ...(options.minutes === undefined ? {} : { minutes: options.minutes }) });
  }

  unban(room: string, userId: number): Promise<Ack> {
    return this.#enqueue({ type: 'unban', room, user: userId, cid: newCid() });
  }

  /** Mutes user `userId` in the room (they read, they do not post), for `minutes` or until lifted. */
  mute(room: string, userId: number, options: { minutes?: number } = {}): Promise<Ack> {
    return this.#enqueue({ type: 'mute', room, user: userId, cid: newCid(), ...(options.minutes === undefined ? {} : { minutes: options.minutes }) });
  }

  unmute(room: string, userId: number): Promise<Ack> {
    return this.#enqueue({ type: 'unmute', room, user: userId, cid: newCid() });
  }

  /** Makes user `userId` a moderator of the room, or a member again (you own it, or are an admin). */
  setRole(room: string, userId: number, role: 'moderator' | 'member'): Promise<Ack> {
    return this.#enqueue({ type: 'role', room, user: userId, role, cid: newCid() });
  }

  /** Sends a direct message to a user id; the ack names the DM room `dm:<a>:<b>`. */
  dm(userId: number, text: string): Promise<Ack> {
    return this.#enqueue({ type: 'dm', to: userId, data: text, cid: newCid() });
  }

  /**
   * Stored messages of a room in their current state (edits, deletions and reactions folded in),
   * oldest first: the `limit` (1-100, default 50) before id `before`. Give the result to a Timeline.
   */
  history(room: string, options: { before?: number; limit?: number } = {}): Promise<HistoryResult> {
    if (this.#stopped) return Promise.reject(this.#closedError());
    const frame: Extract<ClientFrame, { type: 'history' }> & { rid: string } = { type: 'history', room, rid: newCid() };
    if (options.before !== undefined) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this.#request(frame, (answer) => {
      if (answer.type !== 'history') return undefined;
      const result: HistoryResult = { data: answer.data.map(toChatMessage), more: answer.more };
      if (answer.lastId !== undefined) result.lastId = answer.lastId;
      return result;
    });
  }

  /**
   * Finds messages by words in the rooms you can read (or in `room`), newest first: up to `limit`
   * (1-100, default 20), with every other one that shares the time of the oldest. `before`: a ts,
   * for the next page pass the `ts` of the oldest message of this one. Re-asked after a reconnect.
   */
  search(q: string, options: { room?: string; before?: number; limit?: number } = {}): Promise<SearchResult> {
    if (this.#stopped) return Promise.reject(this.#closedError());
    const frame: Extract<ClientFrame, { type: 'search' }> & { rid: string } = { type: 'search', q, rid: newCid() };
    if (options.room !== undefined) frame.room = options.room;
    if (options.before !== undefined) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this.#request(frame, (answer) =>
      answer.type === 'search' ? { q: answer.q, data: answer.data.map(toChatMessage), more: answer.more } : undefined,
    );
  }

  /** Sends a request and settles with what `read` makes of its answer (undefined: not its answer). */
  #request<T>(frame: PendingRequest['frame'], read: (answer: Extract<ServerFrame, { type: 'history' | 'search' }>) => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const answer = (frame_: Extract<ServerFrame, { type: 'history' | 'search' }>) => {
        const result = read(frame_);
        if (result !== undefined) resolve(result);
      };
      this.#requests.set(frame.rid, { seq: ++this.#seq, frame, answer, reject });
      if (this.#open) this.#write(frame);
    });
  }

  /**
   * Marks `room` read up to `id` (markers only go up): stored on the server and told to the user's
   * other connections, so unread counts agree across tabs and devices. Sent on reconnect if offline.
   */
  markRead(room: string, id: number): void {
    if (this.#stopped || (this.#read.get(room) ?? -1) >= id) return;
    this.#read.set(room, id);
    if (this.#open) this.#write({ type: 'read', room, id });
    else this.#unsentReads.set(room, id);
  }

  /** Tells the room that the user is typing (dropped while offline: it is only a hint). */
  typing(room: string): void {
    if (this.#open) this.#write({ type: 'typing', room });
  }

  /** Stops for good: closes the connection and rejects what is still pending. */
  close(): void {
    this.#stop(1000, 'closed by the client');
  }

  // --- connection life ---

  #connectNow(): void {
    const generation = ++this.#generation;
    const token = this.#options.token;
    void openTransport(
      {
        url: webSocketUrl(this.baseUrl, '/ws/chat'),
        token,
        WebSocket: this.#options.WebSocket,
        keepAliveMs: this.#options.keepAliveMs ?? 30_000,
      },
      {
        onOpen: () => {},
        onMessage: (text) => {
          if (generation === this.#generation) this.#onFrame(text);
        },
        onClose: (info) => {
          if (generation !== this.#generation || this.#stopped) return;
          this.#onDisconnect(info);
        },
      },
    ).then((transport) => {
      if (generation !== this.#generation || this.#stopped) transport.close(1000);
      else this.#transport = transport;
    });
  }

  #onDisconnect(info: { code: number; reason: string; httpStatus?: number; wasOpen: boolean; statusVisible: boolean }): void {
    const wasStable = this.#open && Date.now() - this.#openedAt >= (this.#options.stableAfterMs ?? 5000);
    this.#transport = undefined;
    this.#open = false;
    for (const cursor of this.#joined.values()) cursor.reset();
    if (info.httpStatus !== undefined && FATAL_STATUS[info.httpStatus]) {
      this.#stop(info.httpStatus, FATAL_STATUS[info.httpStatus]!);
      return;
    }
    // The session ended (logged out, password changed): its token is refused from now on, so a
    // reconnect with it could only be refused too.
    if (info.code === CloseCode.sessionEnded) {
      this.#stop(401, info.reason || 'the session ended: sign in again');
      return;
    }
    // Banned everywhere: no session of the user is taken any more.
    if (info.code === CloseCode.bannedEverywhere) {
      this.#stop(CloseCode.bannedEverywhere, info.reason || 'banned from this server');
      return;
    }
    if (wasStable) this.#attempt = 0;
    const reason = info.httpStatus !== undefined ? `server answered ${info.httpStatus}` : info.reason || `closed (${info.code})`;
    if (!info.wasOpen && !info.statusVisible) {
      // A browser hides the upgrade's status: ask whether the session is still valid before retrying.
      me(this.baseUrl, this.#options.token).then(
        (user) => {
          if (this.#stopped) return;
          if (user === null) this.#stop(401, FATAL_STATUS[401]!);
          else this.#scheduleReconnect(reason);
        },
        () => {
          if (!this.#stopped) this.#scheduleReconnect(reason);
        },
      );
      return;
    }
    this.#scheduleReconnect(reason);
  }

  #scheduleReconnect(reason: string): void {
    const delayMs = backoffDelay(this.#attempt, this.#options.reconnect);
    this.#attempt += 1;
    this.#setState({ state: 'reconnecting', attempt: this.#attempt, delayMs, reason });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#connectNow();
    }, delayMs);
  }

  #stop(code: number, reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#open = false;
    this.#generation += 1;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#transport?.close(1000);
    this.#transport = undefined;
    const err = this.#closedError(reason);
    for (const pending of this.#outbox.values()) {
      if (pending.retryTimer !== undefined) clearTimeout(pending.retryTimer);
      pending.reject(err);
    }
    this.#outbox.clear();
    for (const pending of this.#requests.values()) pending.reject(err);
    this.#requests.clear();
    this.#setState({ state: 'closed', reason });
    this.emit('closed', { code, reason });
  }

  #closedError(reason = 'the client is closed'): ParleyError {
    return new ParleyError('closed', reason);
  }

  #setState(change: StateChange): void {
    this.#state = change.state;
    this.emit('state', change);
  }

  // --- frames ---

  #write(frame: ClientFrame): void {
    this.#transport?.send(JSON.stringify(frame));
  }

  #sendJoin(room: string, cursor: RoomCursor): void {
    if (cursor.last === undefined) this.#write({ type: 'join', room });
    else {
      cursor.resyncSent();
      this.#write(cursor.lastTs === undefined ? { type: 'join', room, after: cursor.last } : { type: 'join', room, after: cursor.last, at: cursor.lastTs });
    }
  }

  #enqueue(frame: PendingSend['frame']): Promise<Ack> {
    if (this.#stopped) return Promise.reject(this.#closedError());
    return new Promise<Ack>((resolve, reject) => {
      this.#outbox.set(frame.cid, { seq: ++this.#seq, frame, resolve, reject });
      if (this.#open) this.#write(frame);
    });
  }

  #onFrame(text: string): void {
    const frame = parseServerFrame(text);
    if (!frame) return;
    switch (frame.type) {
      case 'welcome':
        return this.#onWelcome(frame);
      case 'chat':
      case 'edit':
      case 'delete':
      case 'react':
        return this.#onEntry(frame);
      case 'ack':
        return this.#onAck(frame);
      case 'error':
        return this.#onError(frame);
      case 'history':
      case 'search': {
        // A server older than rids answers history without one: the oldest request of the room it is for.
        const pending = frame.rid !== undefined ? this.#requests.get(frame.rid) : frame.type === 'history' ? this.#oldestHistory(frame.room) : undefined;
        if (!pending || pending.frame.type !== frame.type) return;
        this.#requests.delete(pending.frame.rid);
        pending.answer(frame);
        return;
      }
      case 'list': {
        const cursor = this.#joined.get(frame.room);
        cursor?.synced();
        // Where the subscription starts: a room joined without `after` rejoins from here after a cut,
        // even when no message arrived in between.
        if (cursor && cursor.last === undefined && frame.lastId !== undefined) cursor.rewind(frame.lastId, frame.lastTs);
        // Behind what was delivered here: the room's history went back (see the `rewound` event).
        let rewound = false;
        if (cursor?.last !== undefined && frame.lastId !== undefined && frame.lastId < cursor.last) {
          cursor.rewind(frame.lastId, frame.lastTs);
          rewound = true;
        }
        this.#members.set(frame.room, new Map(frame.data.map((u) => [u.id, u])));
        if (rewound) this.emit('rewound', { room: frame.room, lastId: frame.lastId! });
        const list: ClientEvents['list'] = { room: frame.room, data: frame.data };
        if (frame.lastId !== undefined) list.lastId = frame.lastId;
        if (frame.roles !== undefined) list.roles = frame.roles;
        if (frame.muted !== undefined) list.muted = frame.muted;
        if (frame.banned !== undefined) list.banned = frame.banned;
        this.emit('list', list);
        return;
      }
      case 'join':
        this.#members.get(frame.room)?.set(frame.user.id, frame.user);
        this.emit('join', { room: frame.room, user: frame.user });
        return;
      case 'left':
        this.#members.get(frame.room)?.delete(frame.user.id);
        this.emit('left', { room: frame.room, user: frame.user });
        return;
      case 'typing':
        this.emit('typing', { room: frame.room, user: frame.user });
        return;
      case 'read':
        if ((this.#read.get(frame.room) ?? -1) >= frame.id) return;
        this.#read.set(frame.room, frame.id);
        this.emit('read', { room: frame.room, id: frame.id });
        return;
      case 'mention':
        this.emit('mention', { room: frame.room, id: frame.id, user: frame.user });
        return;
      case 'room':
        if (!this.#rooms.includes(frame.room)) this.#rooms = [...this.#rooms, frame.room].sort();
        this.emit('room', { room: frame.room, private: frame.private });
        return;
      case 'kicked':
      case 'banned': {
        // The server took every connection of ours out of the room: it is not rejoined after a reconnect.
        this.#joined.delete(frame.room);
        this.#members.delete(frame.room);
        const { type, ...event } = frame;
        if (type === 'kicked') this.emit('kicked', event as ClientEvents['kicked']);
        else this.emit('banned', event as ClientEvents['banned']);
        return;
      }
      case 'moderation':
        this.emit('moderation', frame);
        return;
    }
  }

  #onWelcome(frame: WelcomeFrame): void {
    this.#user = frame.user;
    this.#rooms = frame.rooms;
    for (const [room, id] of Object.entries(frame.read ?? {})) if ((this.#read.get(room) ?? -1) < id) this.#read.set(room, id);
    this.#open = true;
    this.#openedAt = Date.now();
    // Rejoin first so that nothing sent below is missed, then what waited for the connection.
    for (const [room, cursor] of this.#joined) this.#sendJoin(room, cursor);
    const waiting: Array<PendingSend | PendingRequest> = [...this.#outbox.values()].filter((p) => p.retryTimer === undefined);
    waiting.push(...this.#requests.values());
    waiting.sort((a, b) => a.seq - b.seq);
    for (const pending of waiting) this.#write(pending.frame);
    for (const [room, id] of this.#unsentReads) this.#write({ type: 'read', room, id });
    this.#unsentReads.clear();
    this.#setState({ state: 'open' });
    this.emit('welcome', frame);
  }

  /** A message or an event: each takes an id of the room's sequence, and arrives once and in order. */
  #onEntry(frame: Extract<ServerFrame, { type: 'chat' | 'edit' | 'delete' | 'react' }>): void {
    let cursor = this.#joined.get(frame.room);
    if (!cursor) {
      // The server subscribes both users to a DM room when a DM arrives; remember it like a join.
      if (!frame.room.startsWith('dm:')) return;
      cursor = new RoomCursor();
      this.#joined.set(frame.room, cursor);
    }
    const verdict = cursor.offer(frame.id);
    if (verdict === 'deliver') {
      cursor.lastTs = frame.ts;
      if (frame.type === 'chat') this.emit('chat', toChatMessage(frame));
      else if (frame.type === 'edit') this.emit('edit', frame);
      else if (frame.type === 'delete') this.emit('delete', frame);
      else this.emit('react', frame);
    } else if (verdict === 'resync') this.#sendJoin(frame.room, cursor);
  }

  #oldestHistory(room: string): PendingRequest | undefined {
    let oldest: PendingRequest | undefined;
    for (const pending of this.#requests.values()) {
      if (pending.frame.type === 'history' && pending.frame.room === room && (oldest === undefined || pending.seq < oldest.seq)) oldest = pending;
    }
    return oldest;
  }

  #onAck(frame: Extract<ServerFrame, { type: 'ack' }>): void {
    const pending = this.#outbox.get(frame.cid);
    if (!pending) return;
    this.#outbox.delete(frame.cid);
    pending.resolve({ room: frame.room, id: frame.id, ts: frame.ts });
  }

  #onError(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const { code, message, cid, rid, room } = frame;
    const request = rid === undefined ? undefined : this.#requests.get(rid);
    if (request) {
      // An error about one request (its rid) rejects that request and nothing else.
      this.#requests.delete(rid!);
      request.reject(new ParleyError(code, message, room === undefined ? {} : { room }));
      return;
    }
    if (code === 'history_gap' && room !== undefined) {
      const cursor = this.#joined.get(room);
      cursor?.historyGap();
      this.emit('history_gap', { room, message });
      // The room's history went back before what was delivered here, and goes on after lastId.
      if (cursor?.last !== undefined && frame.lastId !== undefined && frame.lastId < cursor.last) {
        cursor.rewind(frame.lastId);
        this.emit('rewound', { room, lastId: frame.lastId });
      }
      return;
    }
    const pending = cid === undefined ? undefined : this.#outbox.get(cid);
    if (pending && cid !== undefined) {
      if (code === 'rate_limited' || code === 'unavailable') {
        // Too fast, or the server cannot store it now: the same frame (same cid) goes again a little later.
        const delay = code === 'rate_limited' ? (this.#options.rateLimitRetryMs ?? 1000) : (this.#options.unavailableRetryMs ?? 2000);
        pending.retryTimer = setTimeout(() => {
          pending.retryTimer = undefined;
          if (this.#open) this.#write(pending.frame);
        }, delay);
        return;
      }
      this.#outbox.delete(cid);
      pending.reject(new ParleyError(code, message, { cid, room }));
      return;
    }
    if (room !== undefined && cid === undefined) {
      // A room we may not read is not rejoined after every reconnect.
      if (code === 'forbidden' || code === 'not_found' || code === 'banned') {
        this.#joined.delete(room);
        this.#members.delete(room);
      }
      // A join the server could not serve now (its store or broker is away) is asked again later.
      const cursor = this.#joined.get(room);
      if (code === 'unavailable' && cursor) {
        setTimeout(() => {
          if (this.#open && this.#joined.get(room) === cursor) this.#sendJoin(room, cursor);
        }, this.#options.unavailableRetryMs ?? 2000);
      }
    }
    const event: ClientEvents['error'] = { code, message };
    if (cid !== undefined) event.cid = cid;
    if (room !== undefined) event.room = room;
    this.emit('error', event);
  }
}

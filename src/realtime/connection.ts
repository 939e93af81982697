/**
 * One WebSocket connection of the chat protocol: its identity (uuid, user, IP), its outbound queue,
 * its rate limit, its subscriptions and the private rooms it may use. It parses and validates each
 * frame at the edge and hands valid messages to the hub in arrival order.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import type { PresenceUser } from '../broker/types.js';
import { checkInput, describeIssues } from '../issues.js';
import { addKeyed, findKeyed, keyedItems, removeKeyed, type OneOrMap } from '../one-or-set.js';
import { encodeFrame } from './frames.js';
import { OutboundQueue } from './outbound.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { ErrorCode } from '../protocol/error-codes.js';
import { clientFrameSchema, type ClientFrame, type ServerFrame } from '../protocol/frames.js';
import { refusalIds, type RefusalIds } from './refusal-ids.js';
import type { RateLimit } from './rate-limiter.js';
import type { Receiver, Subscription } from './room-channel.js';

/** Handles one message; a returned promise holds the connection's later messages until it settles. */
export type MessageHandler = (conn: ClientConnection, message: ClientFrame) => Promise<void> | undefined;

/**
 * What every connection of a hub shares: limits and callbacks. One object for all connections, so
 * that an idle connection carries no closures of its own.
 */
export interface ConnectionContext {
  rateLimit: RateLimit;
  slowReaderBytes: number;
  handle: MessageHandler;
  onError(err: unknown, conn: ClientConnection): void;
  onClose(conn: ClientConnection, code: number): void;
  onFramesWritten(count: number): void;
  onSlowReader(conn: ClientConnection): void;
}

const kConnection = Symbol('parley.connection');
type TaggedSocket = WebSocket & { [kConnection]: ClientConnection };
const connectionOf = (ws: WebSocket) => (ws as TaggedSocket)[kConnection];
const roomOf = (sub: Subscription) => sub.room;

// Shared listeners: `this` is the WebSocket, which points back to its connection.
function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  connectionOf(this).receive(data, isBinary);
}
function onPong(this: WebSocket): void {
  connectionOf(this).alive = true;
}
function onClose(this: WebSocket, code: number): void {
  const conn = connectionOf(this);
  conn.context.onClose(conn, code);
}

function refusedIds(data: RawData): RefusalIds {
  try {
    return refusalIds(JSON.parse(data.toString()));
  } catch {
    return {};
  }
}

/**
 * Seconds since the process started: a small integer, which V8 keeps inside the object (a Date.now()
 * timestamp would be a heap number of its own on every connection).
 */
const nowSeconds = () => Math.floor(performance.now() / 1000);

/**
 * Per-connection state is kept lean: with 10,000s of idle connections every field counts. Maps and
 * sets are made only when a connection needs them (most connections follow one room and chat in
 * public rooms), the user object is shared with every message and presence entry, and the rate
 * limit is one number.
 */
export class ClientConnection implements Receiver {
  readonly id = randomUUID();
  /** Cleared by each heartbeat, set by the pong. */
  alive = true;
  readonly #connectedAt = nowSeconds();
  /** The one subscription, or a map by room once the connection follows several rooms. */
  #subscriptions: OneOrMap<Subscription>;
  /** Private rooms this connection was found allowed to use (until a kick or ban takes one away: disallow). */
  #allowed: Set<string> | undefined;
  readonly #outbound: OutboundQueue;
  /** The rate limit's state: when this connection's bucket is full again (0: full now). */
  #due = 0;
  /** Messages refused in a row; the connection is closed when a client keeps going. */
  #refusedInARow = 0;
  /** Messages waiting for an earlier one that is still being handled (or for the welcome). */
  #waiting: ClientFrame[] | undefined;
  #busy = false;
  /** No frame is admitted any more: a close is under way, or the peer is gone. */
  #closing = false;
  /** The peer is gone, or the close frame is sent: nothing more can reach it. */
  #gone = false;
  /** Admitted messages whose answer (ack or error) comes later, from the store (see expectAnswer). */
  #unanswered = 0;
  /** The close frame to send once every admitted message is answered. */
  #closeFrame: { code: number; reason: string } | undefined;

  /**
   * @param user who is connected, as messages and presence name them (the same object for all)
   * @param session the id of the session it was opened with: ending that session closes it
   */
  constructor(
    readonly ws: WebSocket,
    socket: Duplex,
    readonly user: PresenceUser,
    readonly guest: boolean,
    readonly session: string,
    readonly ip: string,
    readonly context: ConnectionContext,
  ) {
    this.#outbound = new OutboundQueue(socket, context.slowReaderBytes, this);
    (ws as TaggedSocket)[kConnection] = this;
    ws.on('pong', onPong);
    ws.on('close', onClose);
  }

  /** Whole seconds since the connection was accepted. */
  get secondsConnected(): number {
    return nowSeconds() - this.#connectedAt;
  }

  // ---------------------------------------------------------------- subscriptions and access

  subscription(room: string): Subscription | undefined {
    return findKeyed(this.#subscriptions, room, roomOf);
  }

  /** Adds a subscription to a room the connection does not follow yet. */
  addSubscription(sub: Subscription): void {
    this.#subscriptions = addKeyed(this.#subscriptions, sub, roomOf);
  }

  /** Removes the subscription if it is still the connection's one for its room. */
  removeSubscription(sub: Subscription): void {
    this.#subscriptions = removeKeyed(this.#subscriptions, sub, roomOf);
  }

  /** Every subscription, as a snapshot (safe to unsubscribe while iterating). */
  subscriptions(): Subscription[] {
    return keyedItems(this.#subscriptions);
  }

  /** Whether this connection was found allowed to use the private room. */
  allows(room: string): boolean {
    return this.#allowed !== undefined && this.#allowed.has(room);
  }

  allow(room: string): void {
    (this.#allowed ??= new Set()).add(room);
  }

  /** The user was kicked or banned from the room: it is checked again next time. */
  disallow(room: string): void {
    this.#allowed?.delete(room);
  }

  /** Called by the write queue (OutboundListener). */
  framesWritten(count: number): void {
    this.context.onFramesWritten(count);
  }

  /** Called by the write queue (OutboundListener). */
  slowReader(): void {
    this.context.onSlowReader(this);
  }

  /** True once the connection admits no more frames (it is closing or closed). */
  get closing(): boolean {
    return this.#closing;
  }

  /** True once nothing more can reach the peer: its admitted messages are not worth handling. */
  get gone(): boolean {
    return this.#gone;
  }

  /**
   * An admitted message was handed on, and its answer (ack or error) will come later: a close
   * waits for it. Each call is matched by one call of answered(), after the answer is queued.
   */
  expectAnswer(): void {
    this.#unanswered++;
  }

  answered(): void {
    this.#unanswered--;
    this.#closeWhenAnswered();
  }

  push(frame: Buffer): void {
    this.#outbound.push(frame);
  }

  send(message: ServerFrame): void {
    this.#outbound.push(encodeFrame(message));
  }

  sendError(code: ErrorCode, message: string, extra: RefusalIds & { lastId?: number } = {}): void {
    this.send({ type: 'error', code, message, ...extra });
  }

  /**
   * Starts reading frames; valid messages go to the context's handler in arrival order, each after
   * the previous one is handled. Until `first` settles (the welcome), messages wait.
   */
  listen(first: Promise<void>): void {
    this.#wait(first);
    this.ws.on('message', onMessage);
  }

  receive(data: RawData, isBinary: boolean): void {
    if (this.#closing) return;
    const due = this.context.rateLimit.admit(this.#due);
    if (due < 0) {
      this.#refusedInARow += 1;
      if (this.context.rateLimit.abusive(this.#refusedInARow)) this.close(CloseCode.policyViolation, 'rate limit exceeded');
      else this.sendError('rate_limited', 'too many messages: slow down', isBinary ? {} : refusedIds(data));
      return;
    }
    this.#due = due;
    this.#refusedInARow = 0;
    const message = this.#parse(data, isBinary);
    if (!message) return;
    if (this.#busy) (this.#waiting ??= []).push(message);
    else this.#run(message);
  }

  #run(message: ClientFrame): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.context.handle(this, message);
    } catch (err) {
      this.context.onError(err, this);
      return;
    }
    if (pending) this.#wait(pending);
  }

  #wait(pending: Promise<void>): void {
    this.#busy = true;
    pending.then(
      () => this.#resume(),
      (err: unknown) => {
        this.context.onError(err, this);
        this.#resume();
      },
    );
  }

  #resume(): void {
    this.#busy = false;
    const waiting = this.#waiting;
    // Admitted messages are handled even when a close is under way: each is answered before it.
    if (waiting) {
      while (!this.#busy && waiting.length > 0 && !this.#gone) this.#run(waiting.shift()!);
      if (waiting.length === 0 || this.#gone) this.#waiting = undefined;
    }
    this.#closeWhenAnswered();
  }

  #parse(data: RawData, isBinary: boolean): ClientFrame | undefined {
    if (isBinary) {
      this.sendError('bad_request', 'binary frames are not part of the chat protocol; send JSON text');
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      this.sendError('bad_request', 'frame is not valid JSON');
      return undefined;
    }
    const parsed = checkInput(clientFrameSchema, json);
    if (parsed.success) return parsed.data;
    this.sendError('bad_request', describeIssues(parsed.error, 1, 'frame') || 'invalid message', refusalIds(json));
    return undefined;
  }

  /**
   * Admits no more frames, answers every message admitted so far (handling those still waiting),
   * writes what is queued, then closes with `code`; ws cuts off a peer that does not complete the
   * close in 30 s. A slow reader (1013) is closed at once: nothing more can be written to it.
   */
  close(code: number, reason: string): void {
    if (this.#gone) return;
    this.#closing = true;
    if (code === CloseCode.tryAgainLater) {
      this.#closeFrame = undefined;
      this.#gone = true;
      this.#outbound.close();
      this.ws.close(code, reason);
      return;
    }
    this.#closeFrame ??= { code, reason };
    this.#closeWhenAnswered();
  }

  #closeWhenAnswered(): void {
    const frame = this.#closeFrame;
    if (frame === undefined || this.#busy || this.#unanswered > 0) return;
    this.#closeFrame = undefined;
    this.#gone = true;
    this.#outbound.flush();
    this.#outbound.close();
    this.ws.close(frame.code, frame.reason);
  }

  /** The peer went away: stop writing. */
  closed(): void {
    this.#closing = true;
    this.#gone = true;
    this.#closeFrame = undefined;
    this.#waiting = undefined;
    this.#outbound.close();
  }
}

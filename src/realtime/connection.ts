/**
 * One WebSocket connection of the chat protocol: its identity (uuid, user, IP), its outbound queue,
 * its rate limit and its subscriptions. It parses and validates each frame at the edge and hands
 * valid messages to the hub in arrival order.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import type { PresenceUser } from '../broker/types.js';
import { encodeFrame } from './frames.js';
import { OutboundQueue } from './outbound.js';
import { CloseCode, clientMessageSchema, type ClientMessage, type ErrorCode, type ServerMessage } from './protocol.js';
import { RateLimiter } from './rate-limiter.js';
import type { Receiver, Subscription } from './room-channel.js';

/** Handles one message; a returned promise holds the connection's later messages until it settles. */
export type MessageHandler = (conn: ClientConnection, message: ClientMessage) => Promise<void> | undefined;

/**
 * What every connection of a hub shares: limits and callbacks. One object for all connections, so
 * that an idle connection carries no closures of its own.
 */
export interface ConnectionContext {
  rateLimit: number;
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

/** The cid and room a refused frame carried, so that the client can tell which message was refused. */
function idsOf(json: unknown): { cid?: string; room?: string } {
  const ids: { cid?: string; room?: string } = {};
  if (typeof json !== 'object' || json === null) return ids;
  const { cid, room } = json as { cid?: unknown; room?: unknown };
  if (typeof cid === 'string' && cid.length > 0) ids.cid = cid.slice(0, 64);
  if (typeof room === 'string' && room.length > 0) ids.room = room.slice(0, 200);
  return ids;
}

function refusedIds(data: RawData): { cid?: string; room?: string } {
  try {
    return idsOf(JSON.parse(data.toString()));
  } catch {
    return {};
  }
}

export class ClientConnection implements Receiver {
  readonly id = randomUUID();
  readonly subscriptions = new Map<string, Subscription>();
  /** Rooms this connection was found allowed to use (access does not change while connected). */
  readonly allowedRooms = new Set<string>();
  /** Cleared by each heartbeat, set by the pong. */
  alive = true;
  readonly connectedAt = Date.now();
  /** The user as messages name it, made once rather than per message. */
  readonly sender: PresenceUser;
  readonly #outbound: OutboundQueue;
  readonly #limiter: RateLimiter;
  /** Messages waiting for an earlier one that is still being handled (or for the welcome). */
  #waiting: ClientMessage[] | undefined;
  #busy = false;
  #closing = false;

  constructor(
    readonly ws: WebSocket,
    socket: Duplex,
    readonly user: PresenceUser & { guest: boolean },
    readonly ip: string,
    readonly context: ConnectionContext,
  ) {
    this.sender = { id: user.id, name: user.name };
    this.#limiter = new RateLimiter(context.rateLimit);
    this.#outbound = new OutboundQueue(socket, context.slowReaderBytes, this);
    (ws as TaggedSocket)[kConnection] = this;
    ws.on('pong', onPong);
    ws.on('close', onClose);
  }

  /** Called by the write queue (OutboundListener). */
  framesWritten(count: number): void {
    this.context.onFramesWritten(count);
  }

  /** Called by the write queue (OutboundListener). */
  slowReader(): void {
    this.context.onSlowReader(this);
  }

  get closing(): boolean {
    return this.#closing;
  }

  push(frame: Buffer): void {
    this.#outbound.push(frame);
  }

  send(message: ServerMessage): void {
    this.#outbound.push(encodeFrame(message));
  }

  sendError(code: ErrorCode, message: string, extra: { cid?: string; room?: string } = {}): void {
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
    if (!this.#limiter.take()) {
      if (this.#limiter.abusive) this.close(CloseCode.policyViolation, 'rate limit exceeded');
      else this.sendError('rate_limited', 'too many messages: slow down', isBinary ? {} : refusedIds(data));
      return;
    }
    const message = this.#parse(data, isBinary);
    if (!message) return;
    if (this.#busy) (this.#waiting ??= []).push(message);
    else this.#run(message);
  }

  #run(message: ClientMessage): void {
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
    if (!waiting) return;
    while (!this.#busy && waiting.length > 0 && !this.#closing) this.#run(waiting.shift()!);
    if (waiting.length === 0) this.#waiting = undefined;
  }

  #parse(data: RawData, isBinary: boolean): ClientMessage | undefined {
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
    const parsed = clientMessageSchema.safeParse(json);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    this.sendError('bad_request', `${where}${issue?.message ?? 'invalid message'}`, idsOf(json));
    return undefined;
  }

  /** Writes what is queued, then closes with `code`; ws cuts off a peer that does not complete the close in 30 s. */
  close(code: number, reason: string): void {
    if (this.#closing) return;
    this.#closing = true;
    if (code === CloseCode.tryAgainLater) this.#outbound.close();
    else this.#outbound.flush();
    this.#outbound.close();
    this.ws.close(code, reason);
  }

  /** Writes what is queued now (before a close or at shutdown). */
  flush(): void {
    this.#outbound.flush();
  }

  /** The peer went away: stop writing. */
  closed(): void {
    this.#closing = true;
    this.#outbound.close();
  }
}

/**
 * The Broker carries events between nodes; Presence keeps who is in which room; the SignInLimiter
 * counts sign-in attempts. The in-process implementations serve one node, the Redis ones several.
 * Nothing here knows about WebSocket.
 */
import type { WireUser } from '../protocol/frames.js';
import type { ModerationAction, StoredRole, TimelineEntry } from '../store/types.js';

/** A user as rooms see them: id, name, and `guest: true` for a guest. */
export type PresenceUser = WireUser;

/** An event of a room's channel (a chat also goes to user channels), as every node subscribed to it receives it. */
export type RoomEvent =
  /** A stored entry of a room's timeline: a message, or an edit, delete or react event (each has the room's next id). */
  | { kind: 'chat'; message: TimelineEntry }
  | { kind: 'join'; room: string; user: PresenceUser }
  | { kind: 'left'; room: string; user: PresenceUser }
  | { kind: 'typing'; room: string; user: PresenceUser }
  /** On a user channel: the user read `room` up to `id` on connection `conn` (the others are told). */
  | { kind: 'read'; room: string; id: number; conn: string }
  /** On a user channel: message `id` of `room`, by `user`, names the channel's user. */
  | { kind: 'mention'; room: string; id: number; user: PresenceUser }
  /** A room appeared to the users of the channel: a new public room (ROOMS_CHANNEL), or one they were added to (their user channel). */
  | { kind: 'room'; room: string; private: boolean };

/**
 * An event of a user channel only: the user's session `session` (without it, every session of
 * theirs) ended in the store, and their connections of it are to be closed wherever they are.
 */
export type SessionsEndedEvent = { kind: 'sessions_ended'; session?: string; banned?: true };

/**
 * On ROOMS_CHANNEL (every node follows it): a moderation action was stored. Each node forgets what
 * it cached of the room's rules, takes the user's connections out of the room on a kick or ban, and
 * tells the room's subscribers.
 */
export type ModerationEvent = {
  kind: 'moderation';
  room: string;
  action: ModerationAction;
  user: PresenceUser;
  by: PresenceUser;
  ts: number;
  until?: number;
  role?: StoredRole;
};

/** Whatever a channel carries. */
export type ChannelEvent = RoomEvent | SessionsEndedEvent | ModerationEvent;

/**
 * Channels are room names (a room's events) and user channels (what goes to every connection of
 * one user on every node, e.g. a DM to someone not subscribed to its room yet). Room names never
 * contain "user:", so the two cannot clash.
 */
export const userChannel = (userId: number): string => `user:${userId}`;

/** The channel every node follows for news of every connection: new public rooms. Not a room name (it has a colon). */
export const ROOMS_CHANNEL = 'server:rooms';

/** The user id of a user channel, or undefined for a room. */
export function userOfChannel(channel: string): number | undefined {
  return channel.startsWith('user:') ? Number(channel.slice(5)) : undefined;
}

/**
 * Thrown (rejected) by a networked Broker when it cannot reach its server now: the event was not
 * sent, or the channel not subscribed; the same call may succeed later.
 */
export class BrokerUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(message = 'the message broker is unavailable; try again shortly', options?: ErrorOptions) {
    super(message, options);
  }
}

/** What a node does with what its broker receives. */
export interface BrokerHandlers {
  /** An event of a channel this node subscribes to. */
  event(channel: string, event: ChannelEvent): void;
  /**
   * The broker had lost its connection and has every subscription back: events published meanwhile
   * were missed, so whatever the node follows must be read again from the store.
   */
  resync(): void;
}

export interface Broker {
  /**
   * Delivers the event to the handler of every node subscribed to the channel, this node included.
   * Events published on one channel by one node arrive at each node in the order they were published.
   * Returns nothing when the event was delivered before it returned (the in-process broker), or a
   * promise that settles once it is out (a networked one): a promise and its callback per message
   * cost the in-process case about 4% of its throughput with many rooms.
   */
  publish(channel: string, event: ChannelEvent): Promise<void> | void;
  /** Starts delivering the channel's events to this node's handler. Idempotent. */
  subscribe(channel: string): Promise<void>;
  /** Stops delivering the channel's events to this node. Idempotent. */
  unsubscribe(channel: string): Promise<void>;
  /** The handlers of this node; set once by the realtime hub before any subscribe. */
  listen(handlers: BrokerHandlers): void;
  /** Whether the broker answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Who is in each room, across every node. Each entry is a connection of a user on a node; a user is
 * in the room while any of their connections is, on any node. A networked implementation keeps a
 * node's entries only while the node refreshes them, so that a node that dies takes its users with it.
 */
export interface Presence {
  /** The node whose connections this instance adds and removes (NODE_ID). */
  readonly nodeId: string;
  /**
   * Records that connection `connId` of `user` is in `room`.
   * Resolves true when this is the user's first connection in the room on any node (the user entered).
   */
  add(room: string, user: PresenceUser, connId: string): Promise<boolean>;
  /**
   * Forgets connection `connId` of `user` in `room`.
   * Resolves true when it was the user's last connection in the room on any node (the user left).
   */
  remove(room: string, user: PresenceUser, connId: string): Promise<boolean>;
  /** Who is in the room now, each user once, ordered by name (the default collation), then id. */
  list(room: string): Promise<PresenceUser[]>;
  /**
   * The handler of users who left because the node that held their last connection stopped
   * refreshing its entries (it died): the hub tells the room they left. Each such departure is
   * reported to one node only. Set once, by the hub.
   */
  onExpired(handler: (room: string, user: PresenceUser) => void): void;
  /**
   * The handler of users who are in a room again because this node put back entries that its
   * presence store had lost (a restart) or removed as a dead node's (it could not reach it for
   * longer than the expiry): the hub tells the room they joined. Set once, by the hub.
   */
  onReturned(handler: (room: string, user: PresenceUser) => void): void;
  /** Whether presence answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The sign-in rate limit (register, login, guest) per client address, which holds across every
 * node: a burst of attempts, then a steady trickle.
 */
export interface SignInLimiter {
  /** Spends one attempt of `key`. Resolves 0 when allowed, else the milliseconds until one is. */
  take(key: string): Promise<number>;
  close(): Promise<void>;
}

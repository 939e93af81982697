/**
 * The Broker carries room events between nodes and keeps presence. The in-process implementation
 * serves one node; a Redis implementation will serve several. Nothing here knows about WebSocket.
 */
import type { StoredMessage, User } from '../store/types.js';

export type PresenceUser = Pick<User, 'id' | 'name'>;

/** An event of a room, as every node's subscribers of that room receive it. */
export type RoomEvent =
  | { kind: 'chat'; message: StoredMessage }
  | { kind: 'join'; room: string; user: PresenceUser }
  | { kind: 'left'; room: string; user: PresenceUser }
  | { kind: 'typing'; room: string; user: PresenceUser };

export type RoomEventHandler = (room: string, event: RoomEvent) => void;

export interface Broker {
  /**
   * Delivers the event to the handler of every node subscribed to the room, this node included.
   * Events published for one room by one node arrive at each node in the order they were published.
   * Returns nothing when the event was delivered before it returned (the in-process broker), or a
   * promise that settles once it is out (a networked one): a promise and its callback per message
   * cost the in-process case about 4% of its throughput with many rooms.
   */
  publish(room: string, event: RoomEvent): Promise<void> | void;
  /** Starts delivering the room's events to this node's handler. Idempotent. */
  subscribe(room: string): Promise<void>;
  /** Stops delivering the room's events to this node. Idempotent. */
  unsubscribe(room: string): Promise<void>;
  /** The one handler of this node; set once by the realtime hub before any subscribe. */
  onEvent(handler: RoomEventHandler): void;

  /**
   * Records that connection `connId` of `user` is in `room`.
   * Resolves true when this is the user's first connection in the room on any node (the user entered).
   */
  addPresence(room: string, user: PresenceUser, connId: string): Promise<boolean>;
  /**
   * Forgets connection `connId` of `user` in `room`.
   * Resolves true when it was the user's last connection in the room on any node (the user left).
   */
  removePresence(room: string, user: PresenceUser, connId: string): Promise<boolean>;
  /** Who is in the room now, each user once, ordered by name. */
  listPresence(room: string): Promise<PresenceUser[]>;

  close(): Promise<void>;
}

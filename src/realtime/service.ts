import type { ModerationEvent, PresenceUser } from '../broker/types.js';
import type { AuditRecord, HistoryQuery, Room, SearchPage, TimelineEntry, User } from '../store/types.js';
import type { Actor, BannedNow } from './access.js';
import type { ModerationRequest } from './moderation.js';

/**
 * What the HTTP layer may ask of the realtime core. The hub implements it, so a message published
 * over HTTP is stored, acked and fanned out exactly like one sent over WebSocket.
 * Every method rejects with ChatError (codes not_found, forbidden, banned, muted, too_large, bad_request).
 */
export interface ChatService {
  /** Stores `data` in `room` as `user` and fans it out to the room's subscribers on every node. */
  publish(user: PresenceUser, room: string, data: string, cid?: string): Promise<{ message: TimelineEntry; duplicate: boolean }>;
  /** The room, when `user` may read it (not_found for a private room they are not in; banned). */
  accessibleRoom(user: PresenceUser, room: string): Promise<Room>;
  /**
   * Messages of the room the user may read, oldest first, in their current state; with `after`, the
   * room's timeline itself (messages and edit, delete and react events). `more` is true when older
   * ones exist (for `before`) or newer ones (for `after`). `gap` is true when `after` is given and
   * some entries after it are no longer kept (HISTORY_KEEP). `lastId` (a page without `after`): the
   * room's newest id when the page was read; every event up to it is folded into its messages.
   */
  history(user: PresenceUser, room: string, query: HistoryQuery): Promise<{ data: TimelineEntry[]; more: boolean; gap?: boolean; lastId?: number }>;
  /**
   * Messages of the rooms the user may read (or of `room`: not_found or forbidden otherwise) that
   * match `q`, newest first; bad_request when `q` has nothing to look for.
   */
  search(user: PresenceUser, query: { q: string; room?: string; before?: number; limit: number }): Promise<SearchPage>;
  /** Who is in the room now. */
  presence(room: string): Promise<PresenceUser[]>;
  /**
   * Tells the users who can see it now that a room appeared, on every node: everyone for a public
   * room, the creator for a private one. `room` was just created.
   */
  roomCreated(room: Room): Promise<void>;
  /** Tells a user, on every node, that they were added to the room. */
  memberAdded(room: Room, userId: number): Promise<void>;
  /**
   * The user's session `session` (or, without it, every session of theirs) has ended in the store:
   * their WebSocket connections of it are closed with 4001, on this node at once and on the others
   * through the broker. Resolves once that is under way; a broker that is down is logged, not thrown.
   */
  endSessions(userId: number, session?: string): Promise<void>;
  /**
   * A moderation action (kick, ban, unban, mute, unmute, role) by `actor`, within the limits on
   * power (forbidden, saying why, otherwise), stored with its audit entry and applied on every node.
   */
  moderate(actor: Actor, request: ModerationRequest): Promise<ModerationEvent>;
  /** The room's audit log, newest first, for its moderators, owner and admins. */
  audit(actor: Actor, room: string, limit: number): Promise<AuditRecord[]>;
  /** Who is banned from the room now, for its moderators, owner and admins. */
  bans(actor: Actor, room: string): Promise<BannedNow>;
  /**
   * Bans the user everywhere (an admin only; never an admin) or lifts it. A ban ends every session
   * of theirs and closes their connections on every node with 4003.
   */
  banEverywhere(actor: Actor, userId: number, banned: boolean): Promise<User>;
}

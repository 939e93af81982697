/**
 * The Store holds accounts, rooms, memberships and messages. SQLite implements it for one node;
 * PostgreSQL will implement it for several. Nothing here knows about WebSocket or HTTP.
 * Every method is async so that a networked implementation fits the same interface.
 */

/** A user as everyone else sees it. `id` is a positive integer, stable for the account's life. */
export interface User {
  id: number;
  name: string;
  guest: boolean;
}

/**
 * A signed-in session: what a token names (with its signature) besides the user. Ending it ends the
 * token at once, on every node: each request and each upgrade looks it up.
 */
export interface Session {
  /** Random, unguessable (128 bits, base64url). */
  id: string;
  user: User;
  /** Milliseconds since the epoch; the token's `exp`. */
  expiresAt: number;
}

/** What createUser takes: a guest has no password hash. */
export interface NewUser {
  name: string;
  passwordHash: string | null;
  guest: boolean;
}

/** A user plus what only sign-in needs. */
export interface UserRecord extends User {
  /** scrypt hash string; null for guests. */
  passwordHash: string | null;
  createdAt: number;
  /** Banned everywhere by an admin (setUserBanned): cannot sign in. */
  banned: boolean;
}

export interface Room {
  name: string;
  private: boolean;
  /** true for `dm:<a>:<b>` conversation rooms. */
  direct: boolean;
  createdBy: number | null;
  createdAt: number;
  /** Highest message id stored in the room so far (0 when empty). */
  lastId: number;
}

/** Who wrote a message or an event: `guest: true` for a guest (stored with it, as the name is). */
export interface Author {
  id: number;
  name: string;
  guest?: true;
}

/**
 * A stored chat message. `id` is the room's sequence number: 1, 2, 3… with no gaps, shared with the
 * room's timeline events (edit, delete, react).
 */
export interface StoredMessage {
  /** Absent: a chat message (events have a kind). */
  kind?: undefined;
  room: string;
  id: number;
  user: Author;
  /** The text as it reads now: the last edit's, or "" once deleted (the text is erased). */
  data: string;
  /** Milliseconds since the epoch, set by the server when stored. */
  ts: number;
  /** The client's id for the message, when it gave one. */
  cid?: string;
  /** The id of the message of the same room that this one answers. */
  reply?: number;
  /** The users its `@name`s named (resolved when it was sent), in the order named. */
  mentions?: number[];
  /** The ts of its last edit. */
  edited?: number;
  deleted?: true;
  /**
   * Who reacted with what: user ids in the order they reacted, emoji in the order of their oldest
   * reaction. Only in folded pages (Store.messages); the timeline (Store.history) carries react events.
   */
  reactions?: Record<string, number[]>;
}

/** Message `target` now reads `data` (its author changed it). */
export interface StoredEdit {
  kind: 'edit';
  room: string;
  id: number;
  user: Author;
  target: number;
  /** The new text; "" once the target is deleted (every text of a deleted message is erased). */
  data: string;
  ts: number;
  cid?: string;
}

/** Message `target` was deleted. */
export interface StoredDelete {
  kind: 'delete';
  room: string;
  id: number;
  user: Author;
  target: number;
  ts: number;
  cid?: string;
}

/** `user` added (`on`) or took back an emoji reaction to message `target`. */
export interface StoredReact {
  kind: 'react';
  room: string;
  id: number;
  user: Author;
  target: number;
  emoji: string;
  on: boolean;
  ts: number;
  cid?: string;
}

/** A change of a room's timeline other than a new message. */
export type TimelineEvent = StoredEdit | StoredDelete | StoredReact;
/** Everything that takes an id of a room's sequence: a message or an event. */
export type TimelineEntry = StoredMessage | TimelineEvent;

/** A new chat message. */
export interface NewMessage {
  kind?: undefined;
  room: string;
  user: Author;
  data: string;
  cid?: string;
  ts: number;
  /** Must name a message of the same room (refused not_found otherwise). */
  reply?: number;
  mentions?: number[];
}

export interface NewEdit {
  kind: 'edit';
  room: string;
  user: Author;
  target: number;
  data: string;
  cid?: string;
  ts: number;
}

export interface NewDelete {
  kind: 'delete';
  room: string;
  user: Author;
  target: number;
  cid?: string;
  ts: number;
  /** The user may delete others' messages too (the hub's access decision: a moderator); else the author only. */
  anyAuthor?: boolean;
}

export interface NewReact {
  kind: 'react';
  room: string;
  user: Author;
  target: number;
  emoji: string;
  on: boolean;
  cid?: string;
  ts: number;
}

/** What appendMessages stores: a message or an event. */
export type NewEntry = NewMessage | NewEdit | NewDelete | NewReact;

/** Why one entry of a batch was not stored; the rest of the batch is not affected. */
export interface Refusal {
  code: 'not_found' | 'forbidden';
  message: string;
}

/**
 * What appending one entry produced: stored (`duplicate` is true when (room, user, cid) was stored
 * before, and `message` is that earlier entry), or refused.
 */
export type AppendResult =
  | { message: TimelineEntry; duplicate: boolean; refused?: undefined }
  | { refused: Refusal; message?: undefined; duplicate?: undefined };

/** Messages in their current state, read at one moment: when the room's newest id was `lastId`. */
export interface MessagesPage {
  data: StoredMessage[];
  lastId: number;
}

/** A search (see search-text.ts for what matches). */
export interface SearchQuery {
  /** Who searches: only the rooms they can read (listRooms) are searched. */
  userId: number;
  /** The query, as the user typed it. */
  q: string;
  /** Only this room (the caller has checked that the user may read it). */
  room?: string;
  /** Only messages with a ts below this. */
  before?: number;
  /** At least this many results when there are (a page never splits messages that share a ts). */
  limit: number;
  /** When the search is made (default: now): the rooms the user is banned from then are left out. */
  now?: number;
}

/** Messages that match, newest first (by ts), in their current text; `more` when older ones match. */
export interface SearchPage {
  data: StoredMessage[];
  more: boolean;
}

export interface HistoryQuery {
  /** Only messages with id < before. */
  before?: number;
  /** Only messages with id > after. */
  after?: number;
  /** At most this many (the implementation caps it at 1000). */
  limit: number;
}

/** A room role that is stored; `owner` is the room's creator (Room.createdBy), and everyone else is a `member`. */
export type StoredRole = 'moderator' | 'member';

/** What a moderator, owner or admin did in a room (DESIGN.md, "Moderation"). */
export type ModerationAction = 'kick' | 'ban' | 'unban' | 'mute' | 'unmute' | 'role' | 'delete';

/** One moderation action, as moderate() applies it and the audit log keeps it. */
export interface ModerationEntry {
  room: string;
  action: ModerationAction;
  /** Whom it concerns. */
  user: number;
  /** Who did it. */
  by: number;
  ts: number;
  /** ban and mute: when it ends by itself (ms since the epoch); absent: until lifted. */
  until?: number;
  /** role: the role given. */
  role?: StoredRole;
  /**
   * The client's id of the action (a frame's `cid`): a retry by the same user in the same room with
   * the same cid is not applied again (see ModerationOutcome).
   */
  cid?: string;
}

/**
 * What moderate() did: applied the action; found nothing to do (an unban or unmute of someone not
 * banned or muted, a role the user has already); or found it a retry of an action applied before
 * (same room, `by` and `cid`), whose `ts`, `until` and `role` it gives.
 */
export type ModerationOutcome =
  | { kind: 'applied' }
  | { kind: 'unchanged' }
  | { kind: 'duplicate'; ts: number; until?: number; role?: StoredRole };

/** An entry of a room's audit log, with the names of those concerned. */
export interface AuditRecord {
  action: ModerationAction;
  /** `guest: true` for a guest, as in frames. */
  user: Author;
  by: Author;
  ts: number;
  until?: number;
  role?: StoredRole;
}

/** A ban or mute in force in a room. */
export interface Restriction {
  kind: 'ban' | 'mute';
  /** When it ends by itself; absent: until lifted. */
  until?: number;
}

/**
 * A room's moderators and the bans and mutes in force in it now, each with its user as frames name
 * them: a banned user is not in the room, so those who moderate it learn the name from here.
 */
export interface RoomModeration {
  moderators: number[];
  restrictions: Array<Restriction & { user: Author }>;
}

/** Where one user has a say in rooms, and their bans and mutes in force. */
export interface UserModeration {
  /** Rooms they created (their owner), DMs aside. */
  owns: string[];
  moderates: string[];
  /** `by`: who put it in force (absent for one stored before that was kept). */
  restrictions: Array<Restriction & { room: string; by?: Author }>;
}

/** What a connection's welcome frame is made from (Store.welcomeRooms). */
export interface Welcome {
  rooms: string[];
  read: Record<string, number>;
  moderation: UserModeration;
}

/** Thrown by createUser when a user banned everywhere has the name (see Store.createUser). */
export class NameBannedError extends Error {
  readonly code = 'name_banned';
  constructor(name: string) {
    super(`the name "${name}" belongs to a user banned from this server`);
  }
}

/** Thrown by createUser when the name is taken, or looks like a taken one (see Store.createUser). */
export class NameTakenError extends Error {
  readonly code = 'name_taken';
  constructor(name: string) {
    super(`the name "${name}" is taken, or looks too much like a name that is`);
  }
}

/** Thrown by createRoom when the room exists. */
export class RoomExistsError extends Error {
  readonly code = 'room_exists';
  constructor(name: string) {
    super(`the room "${name}" exists`);
  }
}

/** Thrown by appendMessages for a room that does not exist. */
export class NoSuchRoomError extends Error {
  readonly code = 'no_such_room';
  constructor(name: string) {
    super(`no room "${name}"`);
  }
}

/**
 * Thrown by any method when the store cannot be reached now (the database is restarting or the
 * network is down): nothing was changed, and the same call may succeed later.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(message = 'the message store is unavailable; try again shortly', options?: ErrorOptions) {
    super(message, options);
  }
}

export interface Store {
  // --- accounts ---
  /**
   * Creates an account. A registered account's name (passwordHash not null) must be unique among
   * registered accounts, compared case-insensitively after NFC normalisation (nameKey), and must not
   * look like one either (either of its nameSkeletons is a registered account's): NameTakenError.
   * A guest (passwordHash null, guest true) may not take a registered name or a look-alike of one
   * either: NameTakenError. Two guests may share a name; they are different users with different ids.
   * Nobody may take the name (by nameKey) of a user banned everywhere: NameBannedError, checked in
   * the same transaction as the insert, so a sign-up costs one call.
   */
  createUser(input: NewUser): Promise<User>;
  /**
   * createUser and createSession of the new user in one transaction (one call for a sign-up, which
   * a guest's connect waits on). Rejects as createUser does, and then starts no session.
   */
  createUserSession(input: NewUser, expiresAt: number): Promise<Session>;
  /** The registered (non-guest) account with this name, case-insensitive. */
  findRegisteredUser(name: string): Promise<UserRecord | undefined>;
  getUser(id: number): Promise<User | undefined>;
  /**
   * Users whose name starts with `prefix`, compared by name key (nameKey: case and composition do
   * not matter): registered accounts first, then guests, each by name then id; at most `limit`.
   */
  findUsers(prefix: string, limit: number): Promise<User[]>;
  /**
   * Sets a registered account's password hash, and ends every session of the account (a password
   * that was guessed or leaked must not leave its sessions behind). Does nothing for an unknown id.
   */
  setPassword(userId: number, passwordHash: string): Promise<void>;

  // --- sessions ---
  /**
   * Starts a session of the user, valid until `expiresAt`, and returns it. Also forgets sessions
   * that have expired (of anyone). Rejects for an unknown user.
   */
  createSession(userId: number, expiresAt: number): Promise<Session>;
  /** The session with its user, while it has not ended and `now` is before its expiry. */
  getSession(id: string, now: number): Promise<Session | undefined>;
  /** Ends one session (logout). Ending one that is gone is fine. */
  endSession(id: string): Promise<void>;
  /** Ends every session of the user (a ban, say). */
  endUserSessions(userId: number): Promise<void>;
  /**
   * Bans the user everywhere (an admin's site-wide ban), ending every session of theirs in the same
   * transaction, or lifts the ban. A banned user's sessions are not found (getSession) and none can
   * be created for them. Resolves false for an unknown user.
   */
  setUserBanned(userId: number, banned: boolean): Promise<boolean>;

  // --- rooms ---
  /** Creates a room (RoomExistsError if the name exists). The creator of a private room becomes a member. */
  createRoom(input: { name: string; private: boolean; createdBy: number | null; direct?: boolean }): Promise<Room>;
  getRoom(name: string): Promise<Room | undefined>;
  /** Public rooms, and the private rooms and DMs the user is a member of, by name. */
  listRooms(forUserId: number): Promise<Room[]>;
  /**
   * All a welcome frame needs, in one call (a connect waits on it): the names of the rooms listRooms
   * gives, in the same order, the user's read markers in those rooms, by room, and where the user
   * is owner or moderator with their bans and mutes in force at `now`.
   */
  welcomeRooms(userId: number, now: number): Promise<Welcome>;
  /** Idempotent. */
  addMember(room: string, userId: number): Promise<void>;
  isMember(room: string, userId: number): Promise<boolean>;
  /**
   * Applies one moderation action to its room and records it in the room's audit log, in one
   * transaction: kick withdraws the user's membership; ban and mute put one in force (replacing one
   * in force, with its new `until`); unban and unmute lift it; role makes the user a moderator of
   * the room or a member again; delete is recorded only (the delete itself is a timeline event).
   * Changes and records nothing for an unban or unmute of someone who is not banned or muted in the
   * room (as of `entry.ts`) or a role the user has already (`unchanged`), nor for a retry of an
   * action with the same `cid` by the same user in the room (`duplicate`, checked first). Rejects
   * with NoSuchRoomError for a missing room.
   */
  moderate(entry: ModerationEntry): Promise<ModerationOutcome>;
  /** The room's moderators and its bans and mutes in force at `now`. */
  roomModeration(room: string, now: number): Promise<RoomModeration>;
  /** The room's audit log, newest first, at most `limit` entries. */
  auditLog(room: string, limit: number): Promise<AuditRecord[]>;
  /**
   * The DM room between two users (`dm:<lower id>:<higher id>`), created with both as members on
   * first use. Safe to call concurrently.
   */
  ensureDirectRoom(a: number, b: number): Promise<Room>;

  // --- timeline: messages and events ---
  /**
   * Stores a batch of entries (messages and events) in one transaction, in array order, assigning
   * each room's next ids. An entry whose (room, user.id, cid) was stored before is not stored again:
   * its result carries the earlier entry and duplicate = true (messages and events share the cid
   * space). Results are in the order of the input.
   *
   * Each event (and a message's reply) is checked in the same transaction, against the timeline as
   * the entries before it left it, and refused on its own when it does not hold: a target that is
   * not a message of the room, or is deleted (`not_found`; a reply may answer a deleted message);
   * an edit, or a delete without anyAuthor, by someone else than its author (`forbidden`); a react
   * off that the user has not on (`not_found`); a react on of a 21st different emoji
   * (`forbidden`). A react on that the user has already on is not stored again: its result is the
   * event that put it on, as a duplicate. Each stored event is folded into its target in the same
   * transaction (its text and `edited`; `deleted`, with every text of the message erased and its
   * reactions and mentions dropped; the reactions), so folded pages cost no more than plain ones.
   *
   * Rejects the whole batch with NoSuchRoomError if a room is missing.
   */
  appendMessages(batch: NewEntry[]): Promise<AppendResult[]>;
  /**
   * The room's timeline, oldest first, filtered by the query: messages (their text as it reads now,
   * `edited` and `deleted` folded in, no reactions) and events, each by its id. What a replay sends.
   */
  history(room: string, query: HistoryQuery): Promise<TimelineEntry[]>;
  /**
   * The room's messages in their current state (edits, deletions and reactions folded in), oldest
   * first; events are not listed. `before` and `after` bound ids, and `limit` counts messages.
   * Read in one snapshot with `lastId`, the room's newest id then: every event up to it is folded
   * in, none after it.
   */
  messages(room: string, query: HistoryQuery): Promise<MessagesPage>;
  /** The smallest id still kept in the room, or undefined when no message is kept. */
  oldestKeptId(room: string): Promise<number | undefined>;
  /**
   * The newest id of each of the rooms (lastId; rooms that do not exist are left out), in one call:
   * a node compares it with what it delivered, to find messages whose broadcast it never got.
   */
  lastIds(rooms: string[]): Promise<Map<string, number>>;
  /**
   * The newest id among the room's kept messages stored with a ts before `ts`, or 0 when there is
   * none: where a client's history and a store that went back in time (a restored backup) agree.
   */
  lastIdBefore(room: string, ts: number): Promise<number>;
  /** Deletes the room's oldest entries so that at most `keep` remain. Returns how many were deleted. */
  prune(room: string, keep: number): Promise<number>;

  /**
   * Messages (not deleted) of the rooms the user can read (not those they are banned from at
   * `query.now`) that match the query, newest first by ts:
   * the `limit` newest below `before`, and with them every other one that shares the ts of the
   * oldest, so that asking again with `before` = that ts misses and repeats none. Edited messages
   * are found by their new text, deleted ones not at all. The page's messages carry no reactions.
   */
  search(query: SearchQuery): Promise<SearchPage>;

  // --- read markers and names ---
  /**
   * Records that the user read the room up to `id` (at most the room's lastId), keeping the highest
   * marker. Resolves the new marker when it went up, undefined when it stayed (or the room is missing).
   */
  setReadMarker(userId: number, room: string, id: number): Promise<number | undefined>;
  /**
   * The users whose name key (nameKey) is one of `keys`: registered accounts, or with `membersOf`,
   * the members of that room (guests included).
   */
  usersByNameKeys(keys: string[], options?: { membersOf?: string }): Promise<User[]>;

  /** Whether the store answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

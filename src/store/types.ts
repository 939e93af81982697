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

/** A user plus what only sign-in needs. */
export interface UserRecord extends User {
  /** scrypt hash string; null for guests. */
  passwordHash: string | null;
  createdAt: number;
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

/** A stored chat message. `id` is the room's sequence number: 1, 2, 3… with no gaps. */
export interface StoredMessage {
  room: string;
  id: number;
  user: { id: number; name: string };
  data: string;
  /** Milliseconds since the epoch, set by the server when stored. */
  ts: number;
  /** The client's id for the message, when it gave one. */
  cid?: string;
}

export interface NewMessage {
  room: string;
  user: { id: number; name: string };
  data: string;
  cid?: string;
  ts: number;
}

/** What appending one message produced. `duplicate` is true when (room, user, cid) was stored before. */
export interface AppendResult {
  message: StoredMessage;
  duplicate: boolean;
}

export interface HistoryQuery {
  /** Only messages with id < before. */
  before?: number;
  /** Only messages with id > after. */
  after?: number;
  /** At most this many (the implementation caps it at 1000). */
  limit: number;
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
   */
  createUser(input: { name: string; passwordHash: string | null; guest: boolean }): Promise<User>;
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

  // --- rooms ---
  /** Creates a room (RoomExistsError if the name exists). The creator of a private room becomes a member. */
  createRoom(input: { name: string; private: boolean; createdBy: number | null; direct?: boolean }): Promise<Room>;
  getRoom(name: string): Promise<Room | undefined>;
  /** Public rooms, and the private rooms and DMs the user is a member of, by name. */
  listRooms(forUserId: number): Promise<Room[]>;
  /** The names of the rooms listRooms gives, in the same order (all a welcome frame needs). */
  listRoomNames(forUserId: number): Promise<string[]>;
  /** Idempotent. */
  addMember(room: string, userId: number): Promise<void>;
  isMember(room: string, userId: number): Promise<boolean>;
  /**
   * The DM room between two users (`dm:<lower id>:<higher id>`), created with both as members on
   * first use. Safe to call concurrently.
   */
  ensureDirectRoom(a: number, b: number): Promise<Room>;

  // --- messages ---
  /**
   * Stores a batch of messages in one transaction, in array order, assigning each room's next ids.
   * A message whose (room, user.id, cid) was stored before is not stored again: its result carries the
   * earlier message and duplicate = true. Results are in the order of the input.
   * Rejects the whole batch with NoSuchRoomError if a room is missing.
   */
  appendMessages(batch: NewMessage[]): Promise<AppendResult[]>;
  /** Messages of a room, oldest first, filtered by the query. */
  history(room: string, query: HistoryQuery): Promise<StoredMessage[]>;
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
  /** Deletes the room's oldest messages so that at most `keep` remain. Returns how many were deleted. */
  prune(room: string, keep: number): Promise<number>;

  /** Whether the store answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { STORE_HISTORY_MAX } from '../../protocol/limits.js';
import { directRoomName, lookAlikeKeys, nameKey, nameSkeletons } from '../../protocol/names.js';
import { isPlainMessage, refuseEvent, refuseReaction, refuseReply, type TargetInfo } from '../timeline-rules.js';
import {
  NameBannedError,
  NameTakenError,
  NoSuchRoomError,
  RoomExistsError,
  type AppendResult,
  type AuditRecord,
  type HistoryQuery,
  type ModerationEntry,
  type ModerationOutcome,
  type RoomModeration,
  type UserModeration,
  type Welcome,
  type MessagesPage,
  type NewEntry,
  type NewMessage,
  type NewUser,
  type Refusal,
  type Room,
  type SearchPage,
  type SearchQuery,
  type Session,
  type Store,
  type StoredMessage,
  type TimelineEntry,
  type User,
  type UserRecord,
} from '../types.js';
import { newSessionId } from '../session-id.js';
import { duplicateOf, toAuditRecord, toRestrictionOfUser, toRoomRestriction, type AuditRow, type RestrictionOfUserRow, type RoomRestrictionRow } from '../audit-row.js';
import { Checkpointer } from './checkpointer.js';
import { migrate } from './migrations.js';
import { READABLE, SearchIndex, type SearchRow } from './search-index.js';
import { wireUser, type WireUser } from '../../protocol/frames.js';

/** The file name of the database inside the data dir. */
export const DB_FILE = 'parley.db';
/** How long a write waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/**
 * How many messages a staging table (messages_recent, messages_recent_b) collects before new
 * messages land in the other and it moves into messages. Larger means more messages per room in
 * each move (a move writes a page or two per room, whatever the number of its messages), but a
 * bigger (room, id) index for every commit to dirty. Measured with bench/store-append.ts against
 * 8,192: batches of 250 rooms × 8 cost about 10% less CPU per message and write less WAL, batches
 * of 100 rooms × 1 the same; at 32,768 the first gained a little more but the second lost 6%.
 */
export const DEFAULT_RECENT_LIMIT = 16_384;
/** The two staging tables, by store_state.recent_active. */
const STAGING = ['messages_recent', 'messages_recent_b'] as const;

/** Messages (rows) indexed for search per step; a step takes some milliseconds, between other calls. */
const SEARCH_STEP = 1000;
/** Between the steps of one catching-up, when no write comes (ms). */
const SEARCH_STEP_GAP_MS = 5;
/**
 * Messages not indexed yet beyond which the store indexes a step every SEARCH_BUSY_STEP_MS even
 * while writes go on (a search reads every unindexed message itself: this bounds what it reads).
 */
const SEARCH_BACKLOG = 250_000;
const SEARCH_BUSY_STEP_MS = 100;

/** The page cache of the connection, in KiB. */
const CACHE_SIZE_KIB = 32 * 1024;
/**
 * The background checkpointer (checkpointer.ts) looks at the WAL every 100 ms; once it holds 1,000
 * frames (~4 MB) it copies it, every 10 ms until it catches up, and starts it over from its own
 * thread. A WAL file that grew is cut back to 64 MB then.
 */
const CHECKPOINTER = { intervalMs: 100, busyIntervalMs: 10, restartFrames: 1000, walSizeLimitBytes: 64 * 1024 * 1024 };
/**
 * With the checkpointer running, the writer checkpoints itself only when the WAL passes this many
 * pages (~64 MB). That happens only under writes that never pause long enough for the checkpointer
 * to copy all of the WAL (bench/store-append.ts "no gap": a 40-80 ms commit every ~40,000 messages
 * when a message cost ~1.7 KB of WAL; bench/store-wal.ts now finds 0.9-1.2 KB, so every 55,000-75,000);
 * it is what lets the WAL start over then.
 */
const WAL_PAGES_BEFORE_FOREGROUND_CHECKPOINT = 16_384;
/** SQLite's own default, used when there is no checkpointer. */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000;

export interface SqliteStoreOptions {
  /** Messages a staging table collects before it moves into messages (tests make it small). */
  recentLimit?: number;
  /**
   * How long the store must go without a write before it indexes new messages for search (ms,
   * default 250): indexing costs several times what storing does, so it waits for a pause. Searches
   * read what is not indexed yet themselves.
   */
  searchIndexDelayMs?: number;
  /** Checkpoint the WAL from a worker thread (default true; not for ':memory:'). */
  backgroundCheckpoint?: boolean;
}

interface UserRow {
  id: number;
  name: string;
  password_hash: string | null;
  guest: 0 | 1;
  created_at: number;
  banned: 0 | 1;
}

interface RoomRow {
  name: string;
  private: 0 | 1;
  direct: 0 | 1;
  created_by: number | null;
  created_at: number;
  last_id: number;
}

/** store_state, the staging part (see migrations 3 and 4). */
interface StagingState {
  recent_generation: number;
  recent_active: 0 | 1;
  drain_room: string | null;
  drain_id: number | null;
}

/**
 * The ids of the messages with a cid in one staging table, by room and then by cidKey.
 * Ids only: the whole messages, kept for as long as they are staged, made the store thread's
 * collector copy and mark tens of MB; a retry (rare) reads its earlier copy back from the table.
 */
type RecentCids = Map<string, Map<string, number>>;
/** Entries with a cid, by room and then by cidKey. */
type EntriesByCid = Map<string, Map<string, TimelineEntry>>;

interface MessageRow {
  room: string;
  id: number;
  user_id: number;
  user_name: string;
  user_guest: number | null;
  data: string;
  ts: number;
  cid: string | null;
  kind: number | null;
  ref: number | null;
  mentions: string | null;
  edited: number | null;
  deleted: number | null;
}

/** The kind column of an event row (NULL for a message); see migration 9. */
const KIND = { edit: 1, delete: 2, reactOn: 3, reactOff: 4 } as const;

const toRoom = (r: RoomRow): Room => ({
  name: r.name,
  private: r.private === 1,
  direct: r.direct === 1,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastId: r.last_id,
});

/** The entry a row holds: a message (with what was folded into it) or an event. */
function toEntry(r: MessageRow): TimelineEntry {
  const user: WireUser = r.user_guest === 1 ? { id: r.user_id, name: r.user_name, guest: true } : { id: r.user_id, name: r.user_name };
  let entry: TimelineEntry;
  switch (r.kind) {
    case null: {
      const m: StoredMessage = { room: r.room, id: r.id, user, data: r.data, ts: r.ts };
      if (r.cid !== null) m.cid = r.cid;
      if (r.ref !== null) m.reply = r.ref;
      if (r.mentions !== null) m.mentions = JSON.parse(r.mentions) as number[];
      if (r.edited !== null) m.edited = r.edited;
      if (r.deleted === 1) m.deleted = true;
      return m;
    }
    case KIND.edit:
      entry = { kind: 'edit', room: r.room, id: r.id, user, target: r.ref!, data: r.data, ts: r.ts };
      break;
    case KIND.delete:
      entry = { kind: 'delete', room: r.room, id: r.id, user, target: r.ref!, ts: r.ts };
      break;
    default:
      entry = { kind: 'react', room: r.room, id: r.id, user, target: r.ref!, emoji: r.data, on: r.kind === KIND.reactOn, ts: r.ts };
  }
  if (r.cid !== null) entry.cid = r.cid;
  return entry;
}

/** The columns the hot path writes; a plain message leaves the timeline's (kind, ref, …) NULL. */
const MESSAGE_COLUMNS = 'room, id, user_id, user_name, data, ts, cid, user_guest';
const MESSAGE_COLUMN_COUNT = 8;
/** Every column of a message or event row, as reads and the moves into messages take them. */
const ENTRY_COLUMNS = `${MESSAGE_COLUMNS}, kind, ref, mentions, edited, deleted`;
/** Rows per INSERT into a staging table (8 values each; SQLite allows 32,766 variables). */
const ROWS_PER_INSERT = 32;
/** cids per look-up in messages_cid (3 values each). */
const PROBES_PER_SELECT = 64;

/** Opens (creating if missing) `<dataDir>/parley.db`, creating the data dir too. */
export async function openSqliteStore(dataDir: string): Promise<SqliteStore> {
  mkdirSync(dataDir, { recursive: true });
  return SqliteStore.open(join(dataDir, DB_FILE));
}

/**
 * The single-node Store: one better-sqlite3 connection to a WAL-mode file. better-sqlite3 is
 * synchronous, so each method runs to completion before any other JavaScript; the methods are
 * async only to fit the Store interface. Statements are prepared once, in the constructor.
 *
 * It takes no exclusive lock: several stores (connections, processes) may write one file. What a
 * store keeps in memory (the cids of the staging tables) is checked against store_state in every
 * write transaction and reloaded when another connection has changed them.
 *
 * New messages land in a staging table (messages_recent or messages_recent_b, small, rows in
 * arrival order), so that a commit writes few pages however many rooms its batch touches; each
 * staging table, once full, moves into messages (clustered by room) a chunk per batch. See
 * migrations 2 to 4.
 */
export class SqliteStore implements Store {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #stmt: Statements;
  readonly #transaction: Database.Transaction<(work: () => unknown) => unknown>;
  readonly #recentLimit: number;
  readonly #checkpointer: Checkpointer | undefined;
  /**
   * The ids of the messages with a cid in each staging table: the staging half of the cid check,
   * kept here instead of in an index that every insert would update. Valid while
   * store_state.recent_generation is #recentGeneration: every transaction that changes a staging
   * table advances it, so another connection's change makes this one reload. (PRAGMA data_version
   * would also change with the checkpointer's commits, and reloading costs ~1 µs per row.) This
   * connection keeps it up to date itself after each of its commits.
   */
  #recent: [RecentCids, RecentCids] = [new Map(), new Map()];
  #recentGeneration: number | undefined;
  /** Multi-row inserts into each staging table, by number of rows (prepared when first needed). */
  readonly #insertMany: [Map<number, Database.Statement>, Map<number, Database.Statement>] = [new Map(), new Map()];
  /** Look-ups of several cids in messages at once, by number of cids (prepared when first needed). */
  readonly #probeMany = new Map<number, Database.Statement>();
  readonly #search: SearchIndex;
  /** SearchStoreAccess.unindexed, by number of LIKE patterns. */
  readonly #unindexedRows = new Map<string, Database.Statement>();
  /** Rooms with messages not indexed for search yet (this connection's writes, and those found at open). */
  readonly #unindexed = new Set<string>();
  /** About how many messages are not indexed yet. */
  #backlog = 0;
  readonly #searchIndexDelayMs: number;
  #indexTimer: NodeJS.Timeout | undefined;
  /** When this connection last wrote (performance.now()): indexing waits for a pause. */
  #lastWrite = 0;
  #closed = false;

  /**
   * Opens the database at `file` (a path, or ':memory:' for a throwaway store) and migrates it.
   * WAL + synchronous=NORMAL: a committed transaction survives a crash of the process (though
   * not necessarily a power cut), and readers never block the writer.
   */
  static async open(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    return new SqliteStore(file, options);
  }

  private constructor(file: string, options: SqliteStoreOptions) {
    const recentLimit = options.recentLimit ?? DEFAULT_RECENT_LIMIT;
    if (!Number.isSafeInteger(recentLimit) || recentLimit < 1) {
      throw new RangeError(`recentLimit must be a positive integer, not ${recentLimit}`);
    }
    this.#recentLimit = recentLimit;
    this.file = file;
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('foreign_keys = ON');
      // Up to 32 MB of pages (the default is 2 MB): the cid probes and the moves out of
      // messages_recent touch every active room's pages, and a miss is a read from the OS.
      db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
      // The move's sort and statement journal stay in memory instead of temp files.
      db.pragma('temp_store = MEMORY');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    this.#stmt = prepareStatements(db);
    this.#transaction = db.transaction((work: () => unknown) => work());
    this.#searchIndexDelayMs = options.searchIndexDelayMs ?? 250;
    this.#search = new SearchIndex(db, {
      rowsAfter: (room, after, limit) => this.#stmt.historyForward.all({ room, after, before: Number.MAX_SAFE_INTEGER, limit }) as SearchRow[],
      rowAt: (room, id) => this.#entryAt(room, id),
      unindexed: (scope, before, likes) =>
        this.#unindexedStatement(likes.length, scope.room !== null).all({ ...scope, before, ...Object.fromEntries(likes.map((p, i) => [`p${i}`, p])) }) as SearchRow[],
      toMessage: (row) => toEntry(row) as StoredMessage,
    });
    for (const room of this.#search.roomsBehind()) this.#unindexed.add(room);
    this.#scheduleIndexing();
    if ((options.backgroundCheckpoint ?? true) && !db.memory && file !== '') {
      db.pragma(`wal_autocheckpoint = ${WAL_PAGES_BEFORE_FOREGROUND_CHECKPOINT}`);
      // When this connection starts the WAL over, it cuts a file that grew back too.
      db.pragma(`journal_size_limit = ${CHECKPOINTER.walSizeLimitBytes}`);
      this.#checkpointer = new Checkpointer(file, CHECKPOINTER, () => {
        // Without the worker, the writer checkpoints as SQLite does by default.
        if (!this.#closed) db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT}`);
      });
    }
  }

  /**
   * Runs `work` in one write transaction: committed when it returns, rolled back when it throws.
   * IMMEDIATE takes the write lock up front, so a second connection waits (busy_timeout) instead
   * of failing when it tries to upgrade a read to a write.
   */
  #write<T>(work: () => T): T {
    return this.#transaction.immediate(work) as T;
  }

  /** Runs `work` in one read transaction: what it reads is one snapshot of the database. */
  #read<T>(work: () => T): T {
    return this.#transaction.deferred(work) as T;
  }

  // --- accounts ---

  async createUser(input: NewUser): Promise<User> {
    const insert = this.#userInsert(input);
    return this.#write(insert);
  }

  async createUserSession(input: NewUser, expiresAt: number): Promise<Session> {
    const insert = this.#userInsert(input);
    return this.#write((): Session => this.#insertSession(insert(), expiresAt));
  }

  /** The insert of a new user, to run in a write transaction (its name keys computed outside it). */
  #userInsert(input: NewUser): () => User {
    const key = nameKey(input.name);
    const { folded, cased } = nameSkeletons(input.name);
    const alike = JSON.stringify(lookAlikeKeys(input.name));
    return () => {
      if (this.#stmt.bannedName.get(key) !== undefined) throw new NameBannedError(input.name);
      // Checked here for guests; for registered accounts the unique indexes would catch most of it too.
      if (this.#stmt.registeredNameTaken.get({ key, alike }) !== undefined) throw new NameTakenError(input.name);
      const id = this.#stmt.insertUser.get(input.name, key, folded, cased, input.passwordHash, input.guest ? 1 : 0, Date.now()) as number;
      return { id, name: input.name, guest: input.guest };
    };
  }

  async findRegisteredUser(name: string): Promise<UserRecord | undefined> {
    const row = this.#stmt.registeredUser.get(nameKey(name)) as UserRow | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      name: row.name,
      guest: false,
      passwordHash: row.password_hash,
      createdAt: row.created_at,
      banned: row.banned === 1,
    };
  }

  async getUser(id: number): Promise<User | undefined> {
    const row = this.#stmt.userById.get(id) as UserRow | undefined;
    return row ? { id: row.id, name: row.name, guest: row.guest === 1 } : undefined;
  }
  async findUsers(prefix: string, limit: number): Promise<User[]> {
    const from = nameKey(prefix);
    const rows = this.#stmt.usersByPrefix.all({ from, to: `${from}\u{10FFFF}`, limit: Math.max(0, Math.floor(limit)) }) as UserRow[];
    return rows.map((r) => ({ id: r.id, name: r.name, guest: r.guest === 1 }));
  }


  async setPassword(userId: number, passwordHash: string): Promise<void> {
    this.#write(() => {
      this.#stmt.setPassword.run(passwordHash, userId);
      this.#stmt.endUserSessions.run(userId);
    });
  }

  // --- sessions ---

  async createSession(userId: number, expiresAt: number): Promise<Session> {
    return this.#write((): Session => {
      const row = this.#stmt.userById.get(userId) as UserRow | undefined;
      if (row === undefined) throw new Error(`no user with id ${userId}`);
      if (row.banned === 1) throw new Error(`user ${userId} is banned`);
      return this.#insertSession({ id: row.id, name: row.name, guest: row.guest === 1 }, expiresAt);
    });
  }

  /** Inside a write transaction: forgets expired sessions and starts one of `user`. */
  #insertSession(user: User, expiresAt: number): Session {
    const now = Date.now();
    this.#stmt.endExpiredSessions.run(now);
    const id = newSessionId();
    this.#stmt.insertSession.run(id, user.id, now, expiresAt);
    return { id, user, expiresAt };
  }

  async getSession(id: string, now: number): Promise<Session | undefined> {
    const row = this.#stmt.sessionById.get(id, now) as (UserRow & { expires_at: number }) | undefined;
    return row ? { id, user: { id: row.id, name: row.name, guest: row.guest === 1 }, expiresAt: row.expires_at } : undefined;
  }

  async endSession(id: string): Promise<void> {
    this.#stmt.endSession.run(id);
  }

  async endUserSessions(userId: number): Promise<void> {
    this.#stmt.endUserSessions.run(userId);
  }

  async setUserBanned(userId: number, banned: boolean): Promise<boolean> {
    return this.#write(() => {
      if (this.#stmt.setBanned.run(banned ? 1 : 0, userId).changes === 0) return false;
      if (banned) this.#stmt.endUserSessions.run(userId);
      return true;
    });
  }

  // --- rooms ---

  async createRoom(input: { name: string; private: boolean; createdBy: number | null; direct?: boolean }): Promise<Room> {
    const direct = input.direct ?? false;
    // A conversation room is readable by its members only, whatever the caller passed.
    const isPrivate = input.private || direct;
    return this.#write((): Room => {
      const row = this.#stmt.insertRoom.get(
        input.name,
        isPrivate ? 1 : 0,
        direct ? 1 : 0,
        input.createdBy,
        Date.now(),
      ) as RoomRow | undefined;
      if (!row) throw new RoomExistsError(input.name);
      if (isPrivate && input.createdBy !== null) this.#stmt.insertMember.run(input.name, input.createdBy);
      return toRoom(row);
    });
  }

  async getRoom(name: string): Promise<Room | undefined> {
    const row = this.#stmt.roomByName.get(name) as RoomRow | undefined;
    return row ? toRoom(row) : undefined;
  }

  async listRooms(forUserId: number): Promise<Room[]> {
    return (this.#stmt.visibleRooms.all(forUserId) as RoomRow[]).map(toRoom);
  }

  async welcomeRooms(userId: number, now: number): Promise<Welcome> {
    return this.#read(() => ({
      rooms: this.#stmt.visibleRoomNames.all(userId) as string[],
      read: this.#readMarkers(userId),
      moderation: this.#userModeration(userId, now),
    }));
  }

  async addMember(room: string, userId: number): Promise<void> {
    this.#write(() => {
      if (this.#stmt.roomByName.get(room) === undefined) throw new NoSuchRoomError(room);
      this.#requireUser(userId);
      this.#stmt.insertMember.run(room, userId);
    });
  }

  async isMember(room: string, userId: number): Promise<boolean> {
    return this.#stmt.isMember.get(room, userId) !== undefined;
  }

  async moderate(entry: ModerationEntry): Promise<ModerationOutcome> {
    const { room, user, ts, cid } = entry;
    return this.#write((): ModerationOutcome => {
      if (this.#stmt.roomByName.get(room) === undefined) throw new NoSuchRoomError(room);
      if (cid !== undefined) {
        const first = this.#stmt.auditByCid.get(room, entry.by, cid) as Pick<AuditRow, 'ts' | 'until' | 'role'> | undefined;
        if (first) return duplicateOf(first);
      }
      switch (entry.action) {
        case 'kick':
          this.#stmt.deleteMember.run(room, user);
          break;
        case 'ban':
        case 'mute':
          this.#stmt.restrict.run({ room, user, kind: entry.action, until: entry.until ?? null, by: entry.by });
          break;
        case 'unban':
        case 'unmute': {
          const kind = entry.action === 'unban' ? 'ban' : 'mute';
          // One that ended by itself is not in force: nothing to lift (it stays, ignored, until replaced).
          if (this.#stmt.liftRestriction.run({ room, user, kind, now: ts }).changes === 0) return { kind: 'unchanged' };
          break;
        }
        case 'role': {
          const set = entry.role === 'moderator' ? this.#stmt.setModerator : this.#stmt.dropModerator;
          if (set.run(room, user).changes === 0) return { kind: 'unchanged' };
          break;
        }
        case 'delete':
          break;
      }
      this.#stmt.insertAudit.run({ room, action: entry.action, user, by: entry.by, ts, until: entry.until ?? null, role: entry.role ?? null, cid: cid ?? null });
      return { kind: 'applied' };
    });
  }

  async roomModeration(room: string, now: number): Promise<RoomModeration> {
    return this.#read(() => ({
      moderators: this.#stmt.moderatorsOf.all(room) as number[],
      restrictions: (this.#stmt.restrictionsOf.all({ room, now }) as RoomRestrictionRow[]).map(toRoomRestriction),
    }));
  }

  #userModeration(userId: number, now: number): UserModeration {
    return {
      owns: this.#stmt.roomsOwned.all(userId) as string[],
      moderates: this.#stmt.roomsModerated.all(userId) as string[],
      restrictions: (this.#stmt.restrictionsOfUser.all({ userId, now }) as RestrictionOfUserRow[]).map(toRestrictionOfUser),
    };
  }

  async auditLog(room: string, limit: number): Promise<AuditRecord[]> {
    const rows = this.#stmt.auditLog.all(room, Math.max(0, Math.floor(limit))) as AuditRow[];
    return rows.map(toAuditRecord);
  }

  async ensureDirectRoom(a: number, b: number): Promise<Room> {
    for (const id of [a, b]) {
      if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`not a user id: ${id}`);
    }
    const name = directRoomName(a, b);
    // The insert does nothing when the room exists, so concurrent first DMs agree on one room.
    return this.#write((): Room => {
      this.#requireUser(a);
      this.#requireUser(b);
      this.#stmt.insertRoom.get(name, 1, 1, a, Date.now());
      this.#stmt.insertMember.run(name, a);
      this.#stmt.insertMember.run(name, b);
      return toRoom(this.#stmt.roomByName.get(name) as RoomRow);
    });
  }

  #requireUser(id: number): void {
    if (this.#stmt.userById.get(id) === undefined) throw new Error(`no user with id ${id}`);
  }

  // --- timeline: messages and events ---

  async appendMessages(batch: NewEntry[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    // Plain messages (the hot path) take the batched path; a batch with an event or a reply is stored entry by entry.
    const plain = batch.every(isPlainMessage);
    // An edit or a delete overwrites text: with secure_delete on, SQLite zeroes what it overwrites
    // instead of leaving it in the page's free space (a deleted message's text must be gone).
    const erases = !plain && batch.some((e) => e.kind === 'edit' || e.kind === 'delete');
    if (erases) this.#db.pragma('secure_delete = ON');
    let appended: Appended;
    try {
      appended = this.#write(() => (plain ? this.#append(batch as NewMessage[]) : this.#appendEntries(batch)));
    } finally {
      if (erases) this.#db.pragma('secure_delete = OFF');
    }
    const { results, keys, generation, landed, emptied, rooms, stored } = appended;
    for (const room of rooms) this.#unindexed.add(room);
    this.#backlog += stored;
    this.#scheduleIndexing();
    // Only now that the batch is committed do its cids join those known to be in the staging table.
    this.#recentGeneration = generation;
    if (emptied !== undefined) this.#recent[emptied] = new Map();
    const recent = this.#recent[landed];
    for (let i = 0; i < results.length; i++) {
      const { message, duplicate } = results[i]!;
      const key = keys[i];
      if (message !== undefined && !duplicate && key !== undefined) rememberRecent(recent, message.room, key, message.id);
    }
    return results;
  }

  /**
   * In a write transaction that is about to change a staging table: reads store_state, and makes
   * #recent match the tables, reloading it if another connection has changed them.
   */
  #stagingState(): StagingState {
    const state = this.#stmt.stagingState.get() as StagingState;
    if (state.recent_generation !== this.#recentGeneration) {
      this.#recent = [loadRecentCids(this.#stmt.staging[0]), loadRecentCids(this.#stmt.staging[1])];
      this.#recentGeneration = state.recent_generation;
    }
    return state;
  }

  /** Records the staging state at the end of the transaction; returns the generation it leaves. */
  #saveStagingState(state: StagingState): number {
    const generation = state.recent_generation + 1;
    this.#stmt.saveStagingState.run({ generation, active: state.recent_active, drainRoom: state.drain_room, drainId: state.drain_id });
    return generation;
  }

  /**
   * The hot path. Per room in the batch: rooms.last_id is read (which is also the existence check)
   * and advanced by the number of new messages. Per message: one insert into the active staging
   * table, and for a message with a cid a look-up in #recent and, if that misses, one probe of the
   * cid index of messages (#findMoved, many per statement). Then the other staging table, if it is
   * full, moves a chunk into messages (#drain). Ids are assigned per room in array order; a
   * duplicate takes no id. Runs inside the batch transaction, so a throw stores nothing (and
   * #recent is updated only after the commit).
   */
  #append(batch: NewMessage[]): Appended {
    const s = this.#stmt;
    const state = this.#stagingState();
    const landed = state.recent_active;
    const [recentA, recentB] = this.#recent;
    // The new rows' values, in order, for multi-row inserts once every room's ids are known.
    const rows: unknown[] = [];
    const results = new Array<{ message: TimelineEntry; duplicate: boolean }>(batch.length);
    const byRoom = new Map<string, number[]>();
    for (let i = 0; i < batch.length; i++) {
      const room = batch[i]!.room;
      const indexes = byRoom.get(room);
      if (indexes === undefined) byRoom.set(room, [i]);
      else indexes.push(i);
    }
    // Each message with a cid is looked up once: in #recent, and if it is not staged, in messages
    // (all of those in one go, below). `keys` keeps its cidKey for the pass after, and for #recent.
    const keys = new Array<string | undefined>(batch.length);
    const staged = new Map<number, { table: 0 | 1; id: number }>();
    let probes: unknown[] | undefined;
    for (const [room, indexes] of byRoom) {
      const inA = recentA.get(room);
      const inB = recentB.get(room);
      for (const i of indexes) {
        const { user, cid } = batch[i]!;
        if (cid === undefined) continue;
        const key = (keys[i] = cidKey(user.id, cid));
        const idInA = inA?.get(key);
        const id = idInA ?? inB?.get(key);
        if (id !== undefined) staged.set(i, { table: idInA !== undefined ? 0 : 1, id });
        else (probes ??= []).push(room, user.id, cid);
      }
    }
    const movedCopies = probes === undefined ? undefined : this.#findMoved(probes);
    for (const [room, indexes] of byRoom) {
      let fresh = 0;
      const moved = movedCopies?.get(room);
      // The messages with a cid that this batch stores in this room, by cidKey: a later
      // copy in the same batch is their duplicate (they are not in the database when it is looked up).
      let withCid: Map<string, TimelineEntry> | undefined;
      for (const i of indexes) {
        const m = batch[i]!;
        const key = keys[i];
        if (key !== undefined) {
          const inBatch = withCid?.get(key);
          if (inBatch !== undefined) {
            results[i] = { message: inBatch, duplicate: true };
            continue;
          }
          const copy = staged.get(i);
          if (copy !== undefined) {
            const row = s.staging[copy.table].byId.get(room, copy.id) as MessageRow | undefined;
            // #recent matches the tables in this transaction (#stagingState), so this is a bug.
            if (row === undefined) throw new Error(`staged message ${room} #${copy.id} is missing`);
            results[i] = { message: toEntry(row), duplicate: true };
            continue;
          }
          const earlier = moved?.get(key);
          if (earlier !== undefined) {
            results[i] = { message: earlier, duplicate: true };
            continue;
          }
        }
        const message: StoredMessage = { room, id: 0, user: wireUser(m.user), data: m.data, ts: m.ts };
        if (key !== undefined) {
          message.cid = m.cid;
          (withCid ??= new Map()).set(key, message);
        }
        results[i] = { message, duplicate: false };
        fresh++;
      }
      if (fresh === 0) continue;
      // Read, then write: an UPDATE … RETURNING took ~10 µs here, these two ~1.6 µs together.
      let id = s.lastId.get(room) as number | undefined;
      if (id === undefined) throw new NoSuchRoomError(room);
      s.setLastId.run(id + fresh, room);
      for (const i of indexes) {
        const { duplicate } = results[i]!;
        if (duplicate) continue;
        // Every result that is not a duplicate is a message made above.
        const message = results[i]!.message as StoredMessage;
        message.id = ++id;
        const { user, cid } = message;
        rows.push(room, id, user.id, user.name, message.data, message.ts, cid ?? null, user.guest ? 1 : null);
      }
    }
    const stored = rows.length / MESSAGE_COLUMN_COUNT;
    const lastSeq = stored === 0 ? 0 : this.#insertStaged(landed, rows);
    return { results, keys, landed, rooms: byRoom.keys(), stored, ...this.#endStaging(state, stored, lastSeq) };
  }

  /**
   * The end of every transaction that staged `stored` new rows (the last with seq `lastSeq`): moves
   * a chunk of the other staging table into messages, or switches tables when this one is full, and
   * records the staging state.
   */
  #endStaging(state: StagingState, stored: number, lastSeq: number): { generation: number; emptied: 0 | 1 | undefined } {
    let emptied: 0 | 1 | undefined;
    const next = { ...state };
    if (state.drain_room !== null) {
      emptied = this.#drain(next, stored);
    } else if (lastSeq >= this.#recentLimit) {
      // Emptying a table starts its seq at 1 again, so the newest seq is (at least) its row count.
      // The other table is empty (nothing to drain): new messages land there from the next batch.
      next.recent_active = state.recent_active === 0 ? 1 : 0;
      next.drain_room = '';
      next.drain_id = 0;
    }
    return { generation: this.#saveStagingState(next), emptied };
  }

  /**
   * The batch of entries with events or replies: stored one by one, each checked against the
   * timeline as the entries before it left it (timeline-rules.ts), and folded into its target.
   * Slower than #append per entry, and as rare as edits, deletes, reactions and replies.
   */
  #appendEntries(batch: NewEntry[]): Appended {
    const s = this.#stmt;
    const state = this.#stagingState();
    const landed = state.recent_active;
    const results = new Array<AppendResult>(batch.length);
    const keys = new Array<string | undefined>(batch.length);
    /** Each room's newest id so far in this batch. */
    const lastIds = new Map<string, number>();
    /** The first entry of this batch with each (room, cidKey): a later copy gets its outcome. */
    const firsts = new Map<string, number>();
    let stored = 0;
    let lastSeq = 0;
    for (let i = 0; i < batch.length; i++) {
      const entry = batch[i]!;
      const { room, user, cid } = entry;
      const key = cid === undefined ? undefined : (keys[i] = cidKey(user.id, cid));
      if (key !== undefined) {
        const first = firsts.get(`${room}\n${key}`);
        if (first !== undefined) {
          const earlier = results[first]!;
          results[i] = earlier.refused ? earlier : { message: earlier.message, duplicate: true };
          continue;
        }
        firsts.set(`${room}\n${key}`, i);
        const earlier = this.#storedWithCid(room, user.id, cid!, key);
        if (earlier !== undefined) {
          results[i] = { message: earlier, duplicate: true };
          continue;
        }
      }
      let last = lastIds.get(room);
      if (last === undefined) {
        last = s.lastId.get(room) as number | undefined;
        if (last === undefined) throw new NoSuchRoomError(room);
      }
      const outcome = this.#check(entry);
      if (outcome !== undefined) {
        results[i] = 'code' in outcome ? { refused: outcome } : { message: outcome, duplicate: true };
        continue;
      }
      const id = last + 1;
      lastIds.set(room, id);
      const [message, row] = newRow(entry, id);
      lastSeq = Number(s.insertEntry[landed].run(row).lastInsertRowid);
      stored++;
      this.#fold(entry, id);
      results[i] = { message, duplicate: false };
    }
    for (const [room, id] of lastIds) s.setLastId.run(id, room);
    return { results, keys, landed, rooms: lastIds.keys(), stored, ...this.#endStaging(state, stored, lastSeq) };
  }

  /** The entry (room, sender, cid) stored before this transaction, if any: staged (#recent) or moved. */
  #storedWithCid(room: string, userId: number, cid: string, key: string): TimelineEntry | undefined {
    for (const table of [0, 1] as const) {
      const id = this.#recent[table].get(room)?.get(key);
      if (id === undefined) continue;
      const row = this.#stmt.staging[table].byId.get(room, id) as MessageRow | undefined;
      if (row) return toEntry(row);
    }
    const row = this.#stmt.movedWithCid.get(room, userId, cid) as MessageRow | undefined;
    return row ? toEntry(row) : undefined;
  }

  /** The entry at (room, id) in this transaction, wherever it is (messages or staging). */
  #entryAt(room: string, id: number): MessageRow | undefined {
    return this.#stmt.entryAt.get({ room, id }) as MessageRow | undefined;
  }

  #target(room: string, id: number): TargetInfo | undefined {
    const row = this.#entryAt(room, id);
    return row === undefined ? undefined : { message: row.kind === null, userId: row.user_id, deleted: row.deleted === 1 };
  }

  /**
   * Whether the entry may be stored now: undefined when it may, a refusal, or (a react on that is on
   * already) the event that put it on, which answers it.
   */
  #check(entry: NewEntry): Refusal | TimelineEntry | undefined {
    if (entry.kind === undefined) {
      return entry.reply === undefined ? undefined : refuseReply(entry.room, entry.reply, this.#target(entry.room, entry.reply));
    }
    const refused = refuseEvent(entry, this.#target(entry.room, entry.target));
    if (refused || entry.kind !== 'react') return refused;
    const s = this.#stmt;
    const args = { room: entry.room, target: entry.target, emoji: entry.emoji };
    const mine = s.reactionOf.get({ ...args, userId: entry.user.id }) as number | undefined;
    if (entry.on && mine !== undefined) return toEntry(this.#entryAt(entry.room, mine)!);
    const { count, present } = s.reactionCount.get(args) as { count: number; present: number };
    return refuseReaction(entry, mine !== undefined, count, present === 1);
  }

  /** Folds a stored event into its target: its text, its deletion (erasing every text of it), its reactions. */
  #fold(entry: NewEntry, id: number): void {
    if (entry.kind === undefined) return;
    const s = this.#stmt;
    const at = { room: entry.room, target: entry.target };
    switch (entry.kind) {
      case 'edit':
        for (const t of s.fold) t.edit.run({ ...at, data: entry.data, ts: entry.ts });
        this.#search.update(entry.room, entry.target, entry.data);
        break;
      case 'delete':
        for (const t of s.fold) {
          t.erase.run(at);
          t.eraseEdits.run(at);
        }
        s.dropReactions.run(at);
        this.#search.remove(entry.room, entry.target);
        break;
      case 'react':
        if (entry.on) s.addReaction.run({ ...at, emoji: entry.emoji, userId: entry.user.id, id });
        else s.removeReaction.run({ ...at, emoji: entry.emoji, userId: entry.user.id });
        break;
    }
  }

  /**
   * The messages of `messages` (moved out of staging) that share room, sender and cid with one of
   * `probes` (room, user id, cid, …), by room and then cidKey.
   * Almost every probe misses. They are made PROBES_PER_SELECT at a time: one statement per
   * message cost more in binding and stepping than the index look-ups themselves.
   */
  #findMoved(probes: unknown[]): EntriesByCid {
    const found: EntriesByCid = new Map();
    const width = PROBES_PER_SELECT * 3;
    for (let at = 0; at < probes.length; at += width) {
      const part = probes.length <= width ? probes : probes.slice(at, at + width);
      const count = part.length / 3;
      let select = this.#probeMany.get(count);
      if (select === undefined) {
        const values = Array.from({ length: count }, () => '(?, ?, ?)').join(', ');
        // The VALUES clause in FROM drives the join, so each triple is one look-up in messages_cid.
        select = this.#db.prepare(
          `SELECT ${ENTRY_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')} FROM (VALUES ${values}) AS p
           JOIN messages m ON m.room = p.column1 AND m.user_id = p.column2 AND m.cid = p.column3`,
        );
        this.#probeMany.set(count, select);
      }
      for (const row of select.all(part) as MessageRow[]) {
        let inRoom = found.get(row.room);
        if (inRoom === undefined) found.set(row.room, (inRoom = new Map()));
        inRoom.set(cidKey(row.user_id, row.cid!), toEntry(row));
      }
    }
    return found;
  }

  /**
   * Inserts the rows (MESSAGE_COLUMN_COUNT values each) into a staging table, up to
   * ROWS_PER_INSERT per statement: one statement per row cost about a fifth of the insert in
   * binding and stepping. Returns the last row's seq.
   */
  #insertStaged(table: 0 | 1, rows: unknown[]): number {
    const statements = this.#insertMany[table];
    const width = ROWS_PER_INSERT * MESSAGE_COLUMN_COUNT;
    let lastSeq = 0;
    for (let at = 0; at < rows.length; at += width) {
      const part = rows.length - at <= width && at === 0 ? rows : rows.slice(at, at + width);
      const count = part.length / MESSAGE_COLUMN_COUNT;
      let insert = statements.get(count);
      if (insert === undefined) {
        const row = `(${Array(MESSAGE_COLUMN_COUNT).fill('?').join(', ')})`;
        const values = Array.from({ length: count }, () => row).join(', ');
        insert = this.#db.prepare(`INSERT INTO ${STAGING[table]} (${MESSAGE_COLUMNS}) VALUES ${values}`);
        statements.set(count, insert);
      }
      lastSeq = Number(insert.run(part).lastInsertRowid);
    }
    return lastSeq;
  }

  /**
   * Moves the next chunk of the inactive staging table into messages, in (room, id) order so that
   * each room's B-tree is appended to in order; a chunk a little larger than the batch, so that the
   * table is moved before the active one fills up. Updates the cursor in `state`; returns the table
   * if that was its last chunk (it is then emptied, which costs next to nothing).
   */
  #drain(state: StagingState, stored: number): 0 | 1 | undefined {
    const other = state.recent_active === 0 ? 1 : 0;
    const t = this.#stmt.staging[other];
    const chunk = stored + (stored >> 2) + Math.max(1, this.#recentLimit >> 6);
    const from = { room: state.drain_room, id: state.drain_id };
    const end = t.chunkEnd.get({ ...from, skip: chunk - 1 }) as { room: string; id: number } | undefined;
    if (end !== undefined) {
      t.moveRange.run({ fromRoom: from.room, fromId: from.id, toRoom: end.room, toId: end.id });
      state.drain_room = end.room;
      state.drain_id = end.id;
      return undefined;
    }
    t.moveRest.run(from);
    t.clear.run();
    state.drain_room = null;
    state.drain_id = null;
    return other;
  }

  /**
   * With `after` alone: the first `limit` entries above it (a replay, read forwards). Otherwise
   * the newest `limit` entries below `before` (and above `after`, when both are given): a page
   * of older history. Always oldest first.
   */
  async history(room: string, query: HistoryQuery): Promise<TimelineEntry[]> {
    return this.#range(room, query, false).map(toEntry);
  }

  async messages(room: string, query: HistoryQuery): Promise<MessagesPage> {
    // One read transaction: another connection's commit cannot fall between the three reads.
    return this.#read(() => {
      const lastId = (this.#stmt.lastId.get(room) as number | undefined) ?? 0;
      const messages = this.#range(room, query, true).map(toEntry) as StoredMessage[];
      if (messages.length === 0) return { data: messages, lastId };
      // The reactions of the page in one range, in the order they were put on (by event id).
      const reactions = this.#stmt.reactionsBetween.all({ room, from: messages[0]!.id, to: messages.at(-1)!.id }) as Array<{
        target: number;
        emoji: string;
        user_id: number;
      }>;
      if (reactions.length > 0) {
        const byId = new Map(messages.map((m) => [m.id, m]));
        for (const r of reactions) {
          const m = byId.get(r.target);
          if (m !== undefined) ((m.reactions ??= {})[r.emoji] ??= []).push(r.user_id);
        }
      }
      return { data: messages, lastId };
    });
  }

  /** The rows of a history query, oldest first: every entry, or (messagesOnly) the messages. */
  #range(room: string, query: HistoryQuery, messagesOnly: boolean): MessageRow[] {
    const limit = Math.min(STORE_HISTORY_MAX, Math.floor(query.limit));
    if (!(limit > 0)) return [];
    const after = query.after ?? 0;
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const s = this.#stmt;
    if (query.after !== undefined && query.before === undefined) {
      return (messagesOnly ? s.messagesForward : s.historyForward).all({ room, after, before, limit }) as MessageRow[];
    }
    return ((messagesOnly ? s.messagesBackward : s.historyBackward).all({ room, after, before, limit }) as MessageRow[]).reverse();
  }

  async oldestKeptId(room: string): Promise<number | undefined> {
    const id = this.#stmt.oldestId.get({ room }) as number | null;
    return id ?? undefined;
  }

  async lastIds(rooms: string[]): Promise<Map<string, number>> {
    const rows = this.#stmt.lastIds.all(JSON.stringify(rooms)) as Array<{ name: string; last_id: number }>;
    return new Map(rows.map((r) => [r.name, r.last_id]));
  }

  async lastIdBefore(room: string, ts: number): Promise<number> {
    return (this.#stmt.lastIdBefore.get({ room, ts }) as number | null) ?? 0;
  }

  async prune(room: string, keep: number): Promise<number> {
    if (!Number.isFinite(keep)) throw new RangeError(`keep must be a number, not ${keep}`);
    const { deleted, upTo, generation } = this.#write(() => {
      const lastId = this.#stmt.lastId.get(room) as number | undefined;
      if (lastId === undefined) return { deleted: 0, upTo: 0, generation: this.#recentGeneration };
      // Ids are gapless up to last_id and only the oldest are ever deleted, so the kept messages are
      // exactly last_id - keep + 1 … last_id: a range delete, with no walk over the `keep` newest rows.
      const args = { room, upTo: lastId - Math.max(0, Math.floor(keep)) };
      const state = this.#stagingState();
      const s = this.#stmt;
      let deleted = s.prune.run(args).changes + s.staging[state.recent_active].prune.run(args).changes;
      // In the table being moved, the rows up to the cursor are copies of rows of messages: counted once.
      const draining = s.staging[state.recent_active === 0 ? 1 : 0];
      if (state.drain_room !== null) {
        deleted += draining.pruneUnmoved.run({ ...args, drainRoom: state.drain_room, drainId: state.drain_id }).changes;
      }
      draining.prune.run(args);
      s.pruneReactions.run(args);
      this.#search.removeUpTo(room, args.upTo);
      return { deleted, upTo: args.upTo, generation: this.#saveStagingState(state) };
    });
    this.#recentGeneration = generation;
    for (const recent of this.#recent) {
      const inRoom = recent.get(room);
      if (inRoom === undefined) continue;
      for (const [key, id] of inRoom) if (id <= upTo) inRoom.delete(key);
    }
    return deleted;
  }

  // --- search ---

  async search(query: SearchQuery): Promise<SearchPage> {
    return this.#search.search(query);
  }

  /**
   * Indexes for search every message not indexed yet, now (the store does it by itself in pauses
   * between writes). Returns how many rows it read. For tests and benchmarks.
   */
  indexForSearch(): number {
    let read = 0;
    while (this.#unindexed.size > 0) read += this.#indexStep();
    return read;
  }

  /**
   * Indexes the next step once the writes pause for searchIndexDelayMs, or, with a large backlog,
   * every SEARCH_BUSY_STEP_MS whatever the writes do. A write only notes its time (this runs once
   * per batch): the timer, when it fires, waits again if a write came meanwhile.
   */
  #scheduleIndexing(): void {
    this.#lastWrite = performance.now();
    if (this.#closed || this.#unindexed.size === 0 || this.#indexTimer !== undefined) return;
    this.#armIndexing(this.#backlog > SEARCH_BACKLOG ? SEARCH_BUSY_STEP_MS : this.#searchIndexDelayMs);
  }

  #armIndexing(delayMs: number): void {
    this.#indexTimer = setTimeout(() => {
      this.#indexTimer = undefined;
      if (this.#closed || this.#unindexed.size === 0) return;
      const quiet = performance.now() - this.#lastWrite;
      if (this.#backlog <= SEARCH_BACKLOG && quiet < this.#searchIndexDelayMs) return this.#armIndexing(this.#searchIndexDelayMs - quiet);
      this.#indexStep();
      if (this.#unindexed.size > 0) this.#armIndexing(this.#backlog > SEARCH_BACKLOG ? SEARCH_BUSY_STEP_MS : SEARCH_STEP_GAP_MS);
    }, delayMs);
    this.#indexTimer.unref();
  }

  /**
   * The statement of SearchStoreAccess.unindexed with `count` LIKE patterns, for every readable room
   * or for one (`@room`, which it reads by its index), prepared when first needed.
   */
  #unindexedStatement(count: number, oneRoom: boolean): Database.Statement {
    const key = `${count} ${oneRoom}`;
    let statement = this.#unindexedRows.get(key);
    if (statement === undefined) {
      const likes = Array.from({ length: count }, (_, i) => `m.data LIKE @p${i} ESCAPE '\\'`).join(' AND ') || '1';
      const part = (table: string) =>
        // CROSS JOIN: rooms first (SQLite keeps the order), then each one's unindexed range by its index.
        `SELECT ${ENTRY_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')} FROM rooms r CROSS JOIN ${table} m ON m.room = r.name AND m.id > r.indexed_id
         WHERE r.last_id > r.indexed_id AND ${oneRoom ? `r.name = @room AND ${READABLE}` : READABLE}
           AND m.kind IS NULL AND m.deleted IS NULL AND m.ts < @before
           AND (length(m.data) != length(CAST(m.data AS BLOB)) OR (${likes}))`;
      statement = this.#db.prepare(['messages', ...STAGING].map(part).join(' UNION ALL '));
      this.#unindexedRows.set(key, statement);
    }
    return statement;
  }

  /** One step of indexing, in a transaction of its own; returns the rows it read. */
  #indexStep(): number {
    const { read, finished } = this.#write(() => this.#search.step(this.#unindexed, SEARCH_STEP));
    for (const room of finished) this.#unindexed.delete(room);
    this.#backlog = this.#unindexed.size === 0 ? 0 : Math.max(0, this.#backlog - read);
    return read;
  }

  // --- read markers and names ---

  async setReadMarker(userId: number, room: string, id: number): Promise<number | undefined> {
    return this.#write(() => this.#stmt.setReadMarker.get({ userId, room, id }) as number | undefined);
  }

  #readMarkers(userId: number): Record<string, number> {
    const rows = this.#stmt.readMarkers.all({ userId }) as Array<{ room: string; id: number }>;
    return Object.fromEntries(rows.map((r) => [r.room, r.id]));
  }

  async usersByNameKeys(keys: string[], options: { membersOf?: string } = {}): Promise<User[]> {
    if (keys.length === 0) return [];
    const json = JSON.stringify(keys);
    const rows = (
      options.membersOf === undefined ? this.#stmt.registeredByKeys.all(json) : this.#stmt.membersByKeys.all(options.membersOf, json)
    ) as UserRow[];
    return rows.map((r) => ({ id: r.id, name: r.name, guest: r.guest === 1 }));
  }

  /** The connection's durability settings, for the start-up log and for tests. */
  settings(): { journalMode: string; synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA'; busyTimeoutMs: number; foreignKeys: boolean } {
    const levels = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
    return {
      journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
      synchronous: levels[Number(this.#db.pragma('synchronous', { simple: true }))] ?? 'OFF',
      busyTimeoutMs: Number(this.#db.pragma('busy_timeout', { simple: true })),
      foreignKeys: this.#db.pragma('foreign_keys', { simple: true }) === 1,
    };
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return this.#stmt.ping.get() === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#indexTimer);
    // First, so that this connection is the last one and can fold the WAL back into the file.
    await this.#checkpointer?.stop();
    try {
      // Cheap upkeep of the query planner's statistics, as SQLite recommends on close.
      this.#db.pragma('optimize');
    } finally {
      this.#db.close();
    }
  }
}

type Statements = ReturnType<typeof prepareStatements>;

/** The statements on one staging table. */
function stagingStatements(db: Database.Database, table: (typeof STAGING)[number]) {
  const moveInto = `INSERT INTO messages (${ENTRY_COLUMNS}) SELECT ${ENTRY_COLUMNS} FROM ${table}`;
  return {
    withCid: db.prepare(`SELECT room, id, user_id, cid FROM ${table} WHERE cid IS NOT NULL`),
    byId: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM ${table} WHERE room = ? AND id = ?`),
    /** The (room, id) `skip` rows after the cursor: the end of the next chunk. */
    chunkEnd: db.prepare(`SELECT room, id FROM ${table} WHERE (room, id) > (@room, @id) ORDER BY room, id LIMIT 1 OFFSET @skip`),
    moveRange: db.prepare(
      `${moveInto} WHERE (room, id) > (@fromRoom, @fromId) AND (room, id) <= (@toRoom, @toId) ORDER BY room, id`,
    ),
    moveRest: db.prepare(`${moveInto} WHERE (room, id) > (@room, @id) ORDER BY room, id`),
    clear: db.prepare(`DELETE FROM ${table}`),
    prune: db.prepare(`DELETE FROM ${table} WHERE room = @room AND id <= @upTo`),
    pruneUnmoved: db.prepare(`DELETE FROM ${table} WHERE room = @room AND id <= @upTo AND (room, id) > (@drainRoom, @drainId)`),
  };
}

/** The cids of one staging table, as #recent keeps them. */
function loadRecentCids(t: ReturnType<typeof stagingStatements>): RecentCids {
  const recent: RecentCids = new Map();
  for (const row of t.withCid.iterate() as IterableIterator<Pick<MessageRow, 'room' | 'id' | 'user_id' | 'cid'>>) {
    rememberRecent(recent, row.room, cidKey(row.user_id, row.cid!), row.id);
  }
  return recent;
}

/** How #recent and #findMoved key a message with a cid within its room: sender and cid. */
function cidKey(userId: number, cid: string): string {
  return `${userId} ${cid}`;
}

/** Adds the id of a staged message with a cid to a #recent map; `key` is its cidKey. */
function rememberRecent(recent: RecentCids, room: string, key: string, id: number): void {
  let inRoom = recent.get(room);
  if (inRoom === undefined) recent.set(room, (inRoom = new Map()));
  inRoom.set(key, id);
}

/**
 * The history query in one direction. Each table gives at most `limit` rows of its own, already in
 * order; the outer query merges them. UNION rather than UNION ALL: a staging table being moved
 * shares identical rows with messages.
 */
function historySql(order: 'ASC' | 'DESC', messagesOnly = false): string {
  const part = (table: string) =>
    `SELECT * FROM (SELECT ${ENTRY_COLUMNS} FROM ${table}
       WHERE room = @room AND id > @after AND id < @before${messagesOnly ? ' AND kind IS NULL' : ''} ORDER BY id ${order} LIMIT @limit)`;
  return `${['messages', ...STAGING].map(part).join(' UNION ')} ORDER BY id ${order} LIMIT @limit`;
}

/** The statements that fold an event into its target, on one table (the target may be in any). */
function foldStatements(db: Database.Database, table: string) {
  return {
    edit: db.prepare(`UPDATE ${table} SET data = @data, edited = @ts WHERE room = @room AND id = @target`),
    erase: db.prepare(`UPDATE ${table} SET data = '', deleted = 1, edited = NULL, mentions = NULL WHERE room = @room AND id = @target`),
    eraseEdits: db.prepare(`UPDATE ${table} SET data = '' WHERE room = @room AND ref = @target AND kind = ${KIND.edit}`),
  };
}

/** The row of a new entry with its id, and the entry as stored. */
function newRow(entry: NewEntry, id: number): [TimelineEntry, Record<string, unknown>] {
  const { room, user, ts } = entry;
  const row: Record<string, unknown> = {
    room, id, userId: user.id, userName: user.name, userGuest: user.guest ? 1 : null, ts, cid: entry.cid ?? null, kind: null, ref: null, data: '', mentions: null,
  };
  let stored: TimelineEntry;
  switch (entry.kind) {
    case undefined: {
      const m: StoredMessage = { room, id, user: wireUser(user), data: entry.data, ts };
      row.data = entry.data;
      if (entry.reply !== undefined) row.ref = m.reply = entry.reply;
      if (entry.mentions !== undefined) {
        m.mentions = [...entry.mentions];
        row.mentions = JSON.stringify(m.mentions);
      }
      stored = m;
      break;
    }
    case 'edit':
      stored = { kind: 'edit', room, id, user: wireUser(user), target: entry.target, data: entry.data, ts };
      Object.assign(row, { kind: KIND.edit, ref: entry.target, data: entry.data });
      break;
    case 'delete':
      stored = { kind: 'delete', room, id, user: wireUser(user), target: entry.target, ts };
      Object.assign(row, { kind: KIND.delete, ref: entry.target });
      break;
    case 'react':
      stored = { kind: 'react', room, id, user: wireUser(user), target: entry.target, emoji: entry.emoji, on: entry.on, ts };
      Object.assign(row, { kind: entry.on ? KIND.reactOn : KIND.reactOff, ref: entry.target, data: entry.emoji });
      break;
  }
  if (entry.cid !== undefined) stored.cid = entry.cid;
  return [stored, row];
}

/** What one append transaction did, for appendMessages to finish after the commit. */
interface Appended {
  results: AppendResult[];
  /** The rooms it wrote to, and how many entries it stored (for search indexing). */
  rooms: Iterable<string>;
  stored: number;
  /** cidKey of each entry with a cid, in batch order. */
  keys: Array<string | undefined>;
  generation: number;
  landed: 0 | 1;
  emptied: 0 | 1 | undefined;
}

function prepareStatements(db: Database.Database) {
  return {
    // Index searches, one per key: written with OR, the planner scans a whole index of registered names.
    registeredNameTaken: db
      .prepare(
        `SELECT 1 FROM users WHERE guest = 0 AND name_key = @key
         UNION ALL SELECT 1 FROM users WHERE guest = 0 AND name_skeleton IN (SELECT value FROM json_each(@alike))
         UNION ALL SELECT 1 FROM users WHERE guest = 0 AND name_skeleton_cased IN (SELECT value FROM json_each(@alike))
         LIMIT 1`,
      )
      .pluck(),
    insertUser: db
      .prepare(
        `INSERT INTO users (name, name_key, name_skeleton, name_skeleton_cased, password_hash, guest, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      )
      .pluck(),
    registeredUser: db.prepare('SELECT * FROM users WHERE name_key = ? AND guest = 0'),
    // A range of the name-key index: the keys that start with the prefix sort between it and it
    // followed by the highest code point.
    usersByPrefix: db.prepare(
      `SELECT id, name, guest FROM users WHERE name_key >= @from AND name_key < @to
       ORDER BY guest, name_key, id LIMIT @limit`,
    ),
    userById: db.prepare('SELECT * FROM users WHERE id = ?'),
    setPassword: db.prepare('UPDATE users SET password_hash = ? WHERE id = ? AND guest = 0'),

    insertSession: db.prepare('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)'),
    sessionById: db.prepare(
      `SELECT u.id, u.name, u.guest, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id = ? AND s.expires_at > ? AND u.banned = 0`,
    ),
    endSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
    endUserSessions: db.prepare('DELETE FROM sessions WHERE user_id = ?'),
    endExpiredSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),

    insertRoom: db.prepare(
      `INSERT INTO rooms (name, private, direct, created_by, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (name) DO NOTHING RETURNING *`,
    ),
    roomByName: db.prepare('SELECT * FROM rooms WHERE name = ?'),
    visibleRooms: db.prepare(
      `SELECT * FROM rooms r
       WHERE r.private = 0 OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = ?)
       ORDER BY r.name`,
    ),
    visibleRoomNames: db
      .prepare(
        `SELECT r.name FROM rooms r
         WHERE r.private = 0 OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = ?)
         ORDER BY r.name`,
      )
      .pluck(),
    insertMember: db.prepare('INSERT OR IGNORE INTO members (room, user_id) VALUES (?, ?)'),
    isMember: db.prepare('SELECT 1 FROM members WHERE room = ? AND user_id = ?').pluck(),
    deleteMember: db.prepare('DELETE FROM members WHERE room = ? AND user_id = ?'),

    setBanned: db.prepare('UPDATE users SET banned = ? WHERE id = ?'),
    bannedName: db.prepare('SELECT 1 FROM users WHERE name_key = ? AND banned = 1 LIMIT 1').pluck(),
    restrict: db.prepare(
      `INSERT INTO room_restrictions (room, user_id, kind, until, by_id) VALUES (@room, @user, @kind, @until, @by)
       ON CONFLICT (room, user_id, kind) DO UPDATE SET until = excluded.until, by_id = excluded.by_id`,
    ),
    liftRestriction: db.prepare(
      'DELETE FROM room_restrictions WHERE room = @room AND user_id = @user AND kind = @kind AND (until IS NULL OR until > @now)',
    ),
    setModerator: db.prepare(`INSERT OR IGNORE INTO room_roles (room, user_id, role) VALUES (?, ?, 'moderator')`),
    dropModerator: db.prepare('DELETE FROM room_roles WHERE room = ? AND user_id = ?'),
    insertAudit: db.prepare(
      'INSERT INTO audit_log (room, action, user_id, by_id, ts, until, role, cid) VALUES (@room, @action, @user, @by, @ts, @until, @role, @cid)',
    ),
    auditByCid: db.prepare('SELECT ts, until, role FROM audit_log WHERE room = ? AND by_id = ? AND cid = ?'),
    moderatorsOf: db.prepare('SELECT user_id FROM room_roles WHERE room = ? ORDER BY user_id').pluck(),
    restrictionsOf: db.prepare(
      `SELECT r.user_id, u.name, u.guest, r.kind, r.until FROM room_restrictions r JOIN users u ON u.id = r.user_id
       WHERE r.room = @room AND (r.until IS NULL OR r.until > @now) ORDER BY r.user_id, r.kind`,
    ),
    roomsOwned: db.prepare('SELECT name FROM rooms WHERE created_by = ? AND direct = 0 ORDER BY name').pluck(),
    roomsModerated: db.prepare('SELECT room FROM room_roles WHERE user_id = ? ORDER BY room').pluck(),
    restrictionsOfUser: db.prepare(
      `SELECT r.room, r.kind, r.until, r.by_id, b.name AS by_name, b.guest AS by_guest
       FROM room_restrictions r LEFT JOIN users b ON b.id = r.by_id
       WHERE r.user_id = @userId AND (r.until IS NULL OR r.until > @now) ORDER BY r.room, r.kind`,
    ),
    auditLog: db.prepare(
      `SELECT a.action, a.user_id, u.name AS user_name, u.guest AS user_guest, a.by_id, b.name AS by_name, b.guest AS by_guest, a.ts, a.until, a.role
       FROM audit_log a JOIN users u ON u.id = a.user_id JOIN users b ON b.id = a.by_id
       WHERE a.room = ? ORDER BY a.seq DESC LIMIT ?`,
    ),

    setLastId: db.prepare('UPDATE rooms SET last_id = ? WHERE name = ?'),
    lastId: db.prepare('SELECT last_id FROM rooms WHERE name = ?').pluck(),
    stagingState: db.prepare('SELECT recent_generation, recent_active, drain_room, drain_id FROM store_state'),
    saveStagingState: db.prepare(
      `UPDATE store_state SET recent_generation = @generation, recent_active = @active, drain_room = @drainRoom,
       drain_id = @drainId`,
    ),
    staging: [stagingStatements(db, STAGING[0]), stagingStatements(db, STAGING[1])] as const,
    historyForward: db.prepare(historySql('ASC')),
    historyBackward: db.prepare(historySql('DESC')),
    messagesForward: db.prepare(historySql('ASC', true)),
    messagesBackward: db.prepare(historySql('DESC', true)),
    insertEntry: STAGING.map((t) =>
      db.prepare(
        `INSERT INTO ${t} (${ENTRY_COLUMNS}) VALUES (@room, @id, @userId, @userName, @data, @ts, @cid, @userGuest, @kind, @ref, @mentions, NULL, NULL)`,
      ),
    ) as [Database.Statement, Database.Statement],
    movedWithCid: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM messages WHERE room = ? AND user_id = ? AND cid = ?`),
    entryAt: db.prepare(
      `${['messages', ...STAGING].map((t) => `SELECT ${ENTRY_COLUMNS} FROM ${t} WHERE room = @room AND id = @id`).join(' UNION ALL ')} LIMIT 1`,
    ),
    fold: ['messages', ...STAGING].map((t) => foldStatements(db, t)),
    reactionOf: db
      .prepare('SELECT id FROM reactions WHERE room = @room AND target = @target AND emoji = @emoji AND user_id = @userId')
      .pluck(),
    reactionCount: db.prepare(
      `SELECT count(DISTINCT emoji) AS count, max(emoji = @emoji) AS present FROM reactions WHERE room = @room AND target = @target`,
    ),
    addReaction: db.prepare('INSERT INTO reactions (room, target, emoji, user_id, id) VALUES (@room, @target, @emoji, @userId, @id)'),
    removeReaction: db.prepare('DELETE FROM reactions WHERE room = @room AND target = @target AND emoji = @emoji AND user_id = @userId'),
    dropReactions: db.prepare('DELETE FROM reactions WHERE room = @room AND target = @target'),
    reactionsBetween: db.prepare(
      'SELECT target, emoji, user_id FROM reactions WHERE room = @room AND target BETWEEN @from AND @to ORDER BY id',
    ),
    pruneReactions: db.prepare('DELETE FROM reactions WHERE room = @room AND target <= @upTo'),
    setReadMarker: db
      .prepare(
        `INSERT INTO read_markers (user_id, room, id)
         SELECT @userId, name, min(@id, last_id) FROM rooms WHERE name = @room
         ON CONFLICT (user_id, room) DO UPDATE SET id = excluded.id WHERE excluded.id > read_markers.id
         RETURNING id`,
      )
      .pluck(),
    readMarkers: db.prepare(
      `SELECT k.room, k.id FROM read_markers k JOIN rooms r ON r.name = k.room
       WHERE k.user_id = @userId AND (r.private = 0 OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = @userId))`,
    ),
    registeredByKeys: db.prepare('SELECT * FROM users WHERE guest = 0 AND name_key IN (SELECT value FROM json_each(?))'),
    membersByKeys: db.prepare(
      'SELECT u.* FROM members m JOIN users u ON u.id = m.user_id WHERE m.room = ? AND u.name_key IN (SELECT value FROM json_each(?))',
    ),
    oldestId: db
      .prepare(
        `SELECT min(id) FROM (SELECT min(id) AS id FROM messages WHERE room = @room
         UNION ALL SELECT min(id) FROM ${STAGING[0]} WHERE room = @room
         UNION ALL SELECT min(id) FROM ${STAGING[1]} WHERE room = @room)`,
      )
      .pluck(),
    lastIds: db.prepare('SELECT name, last_id FROM rooms WHERE name IN (SELECT value FROM json_each(?))'),
    // A scan of the room's rows (there is no index on ts): asked only when a client's history and
    // the store's disagree, which is rare.
    lastIdBefore: db
      .prepare(
        `SELECT max(id) FROM (SELECT max(id) AS id FROM messages WHERE room = @room AND ts < @ts
         UNION ALL SELECT max(id) FROM ${STAGING[0]} WHERE room = @room AND ts < @ts
         UNION ALL SELECT max(id) FROM ${STAGING[1]} WHERE room = @room AND ts < @ts)`,
      )
      .pluck(),
    prune: db.prepare('DELETE FROM messages WHERE room = @room AND id <= @upTo'),
    ping: db.prepare('SELECT 1').pluck(),
  };
}

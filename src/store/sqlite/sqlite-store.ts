import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { directRoomName } from '../../realtime/names.js';
import {
  NameTakenError,
  NoSuchRoomError,
  RoomExistsError,
  type AppendResult,
  type HistoryQuery,
  type NewMessage,
  type Room,
  type Store,
  type StoredMessage,
  type User,
  type UserRecord,
} from '../types.js';
import { Checkpointer } from './checkpointer.js';
import { migrate } from './migrations.js';
import { nameKey } from './name-key.js';

/** The file name of the database inside the data dir. */
export const DB_FILE = 'parley.db';
/** The most messages one history call returns, whatever the caller asks for. */
export const MAX_HISTORY_LIMIT = 1000;
/** How long a write waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/**
 * How many messages messages_recent collects before they move into messages. Larger means fewer
 * moves with more messages per room each (the move's cost is per room touched), but bigger recent
 * indexes for every commit to dirty and a longer move when it comes. Measured: bench/store-append.ts.
 */
export const DEFAULT_RECENT_LIMIT = 4096;

/** The page cache of the connection, in KiB. */
const CACHE_SIZE_KIB = 32 * 1024;
/**
 * The background checkpointer (checkpointer.ts) copies the WAL every 100 ms, and starts it over
 * from its own thread once it holds ~4 MB that are all copied. A WAL file that grew is cut back to
 * 64 MB when it starts over.
 */
const CHECKPOINTER = { intervalMs: 100, restartFrames: 1000, walSizeLimitBytes: 64 * 1024 * 1024 };
/**
 * With the checkpointer running, the writer checkpoints itself only when the WAL passes this many
 * pages (~64 MB): under continuous writes the checkpointer never finds a moment when all of the WAL
 * is copied, and this checkpoint (of what the worker has not copied yet, plus two fsyncs) is what
 * lets the WAL start over. Measured at ~1.7 KB of WAL per message in 2,000-message batches.
 */
const WAL_PAGES_BEFORE_FOREGROUND_CHECKPOINT = 16_384;
/** SQLite's own default, used when there is no checkpointer. */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000;

export interface SqliteStoreOptions {
  /** Messages kept in messages_recent before they move into messages (tests make it small). */
  recentLimit?: number;
  /** Checkpoint the WAL from a worker thread (default true; not for ':memory:'). */
  backgroundCheckpoint?: boolean;
}

interface UserRow {
  id: number;
  name: string;
  password_hash: string | null;
  guest: 0 | 1;
  created_at: number;
}

interface RoomRow {
  name: string;
  private: 0 | 1;
  direct: 0 | 1;
  created_by: number | null;
  created_at: number;
  last_id: number;
}

interface MessageRow {
  room: string;
  id: number;
  user_id: number;
  user_name: string;
  data: string;
  ts: number;
  cid: string | null;
}

const toRoom = (r: RoomRow): Room => ({
  name: r.name,
  private: r.private === 1,
  direct: r.direct === 1,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastId: r.last_id,
});

const toMessage = (r: MessageRow): StoredMessage => ({
  room: r.room,
  id: r.id,
  user: { id: r.user_id, name: r.user_name },
  data: r.data,
  ts: r.ts,
  ...(r.cid === null ? {} : { cid: r.cid }),
});

const MESSAGE_COLUMNS = 'room, id, user_id, user_name, data, ts, cid';

/** Opens (creating if missing) `<dataDir>/parley.db`, creating the data dir too. */
export async function openSqliteStore(dataDir: string): Promise<SqliteStore> {
  mkdirSync(dataDir, { recursive: true });
  return SqliteStore.open(join(dataDir, DB_FILE));
}

/**
 * The single-node Store: one better-sqlite3 connection to a WAL-mode file. better-sqlite3 is
 * synchronous, so each method runs to completion before any other JavaScript; the methods are
 * async only to fit the Store interface. Statements are prepared once, in the constructor.
 */
export class SqliteStore implements Store {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #stmt: Statements;
  readonly #transaction: Database.Transaction<(work: () => unknown) => unknown>;
  readonly #recentLimit: number;
  readonly #checkpointer: Checkpointer | undefined;
  /**
   * The messages of messages_recent that have a cid, by room and then by `${user id} ${cid}`: the
   * recent half of the cid check, kept here instead of in an index that every insert would update.
   * Valid while store_state.recent_generation is #recentGeneration: every transaction that changes
   * messages_recent advances it, so another connection's change makes this one reload. (PRAGMA
   * data_version would also change with the checkpointer's commits, and reloading costs ~1 µs per
   * row.) This connection keeps it up to date itself after each of its commits.
   */
  #recent = new Map<string, Map<string, StoredMessage>>();
  #recentGeneration: number | undefined;
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

  // --- accounts ---

  async createUser(input: { name: string; passwordHash: string | null; guest: boolean }): Promise<User> {
    const key = nameKey(input.name);
    return this.#write((): User => {
      // Checked here for guests; for registered accounts the unique index would catch it too.
      if (this.#stmt.registeredNameTaken.get(key) !== undefined) throw new NameTakenError(input.name);
      const id = this.#stmt.insertUser.get(input.name, key, input.passwordHash, input.guest ? 1 : 0, Date.now()) as number;
      return { id, name: input.name, guest: input.guest };
    });
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
    };
  }

  async getUser(id: number): Promise<User | undefined> {
    const row = this.#stmt.userById.get(id) as UserRow | undefined;
    return row ? { id: row.id, name: row.name, guest: row.guest === 1 } : undefined;
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

  // --- messages ---

  async appendMessages(batch: NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    const { results, moved, generation } = this.#write(() => this.#append(batch));
    // Only now that the batch is committed does it join the cids known to be in messages_recent.
    this.#recentGeneration = generation;
    if (moved) {
      this.#recent.clear();
    } else {
      for (const { message, duplicate } of results) {
        if (!duplicate && message.cid !== undefined) rememberRecent(this.#recent, message);
      }
    }
    return results;
  }

  /**
   * In a write transaction that is about to change messages_recent: makes #recent match the table,
   * reloading it if another connection has changed it, and advances the generation. Returns the
   * generation this transaction leaves, which #recent has once the caller applies the changes.
   */
  #changeRecent(): number {
    const generation = this.#stmt.recentGeneration.get() as number;
    if (generation !== this.#recentGeneration) {
      const recent = new Map<string, Map<string, StoredMessage>>();
      for (const row of this.#stmt.recentWithCid.iterate() as IterableIterator<MessageRow>) rememberRecent(recent, toMessage(row));
      this.#recent = recent;
      this.#recentGeneration = generation;
    }
    this.#stmt.advanceRecentGeneration.run();
    return generation + 1;
  }

  /**
   * The hot path. Per room in the batch: one statement that advances rooms.last_id by the number of
   * new messages and returns it (which is also the existence check). Per message: one insert into
   * messages_recent, and for a message with a cid a look-up in #recent and one index probe of
   * messages. Ids are assigned per room in array order; a duplicate takes no id. Runs inside the
   * batch transaction, so a throw stores nothing (and #recent is updated only after the commit).
   */
  #append(batch: NewMessage[]): { results: AppendResult[]; moved: boolean; generation: number } {
    const s = this.#stmt;
    const generation = this.#changeRecent();
    const results = new Array<AppendResult>(batch.length);
    const byRoom = new Map<string, number[]>();
    for (let i = 0; i < batch.length; i++) {
      const room = batch[i]!.room;
      const indexes = byRoom.get(room);
      if (indexes === undefined) byRoom.set(room, [i]);
      else indexes.push(i);
    }
    let lastSeq = 0;
    for (const [room, indexes] of byRoom) {
      let fresh = 0;
      const recent = this.#recent.get(room);
      // The messages with a cid that this batch stores in this room, by `${user id} ${cid}`: a later
      // copy in the same batch is their duplicate (they are not in the database when it is looked up).
      let withCid: Map<string, StoredMessage> | undefined;
      for (const i of indexes) {
        const m = batch[i]!;
        if (m.cid !== undefined) {
          const key = `${m.user.id} ${m.cid}`;
          const inBatch = withCid?.get(key);
          if (inBatch !== undefined) {
            results[i] = { message: inBatch, duplicate: true };
            continue;
          }
          const inRecent = recent?.get(key);
          if (inRecent !== undefined) {
            results[i] = { message: { ...inRecent, user: { ...inRecent.user } }, duplicate: true };
            continue;
          }
          const earlier = s.messageByCid.get(room, m.user.id, m.cid) as MessageRow | undefined;
          if (earlier !== undefined) {
            results[i] = { message: toMessage(earlier), duplicate: true };
            continue;
          }
        }
        const message: StoredMessage = { room, id: 0, user: { id: m.user.id, name: m.user.name }, data: m.data, ts: m.ts };
        if (m.cid !== undefined) {
          message.cid = m.cid;
          (withCid ??= new Map()).set(`${m.user.id} ${m.cid}`, message);
        }
        results[i] = { message, duplicate: false };
        fresh++;
      }
      if (fresh === 0) continue;
      const last = s.advanceRoom.get(fresh, room) as number | undefined;
      if (last === undefined) throw new NoSuchRoomError(room);
      let id = last - fresh;
      for (const i of indexes) {
        const { message, duplicate } = results[i]!;
        if (duplicate) continue;
        message.id = ++id;
        const { user, cid } = message;
        lastSeq = Number(s.insertRecent.run(room, id, user.id, user.name, message.data, message.ts, cid ?? null).lastInsertRowid);
      }
    }
    // The move empties the table, after which seq starts again at 1: the newest seq is (at least) the
    // number of messages waiting.
    if (lastSeq < this.#recentLimit) return { results, moved: false, generation };
    this.#moveRecent();
    return { results, moved: true, generation };
  }

  /**
   * Moves every message of messages_recent into messages, sorted so that each room's B-tree is
   * appended to in order: one pass whose cost is per room, shared by all the room's messages.
   */
  #moveRecent(): void {
    this.#stmt.moveRecent.run();
    this.#stmt.clearRecent.run();
  }

  /**
   * With `after` alone: the first `limit` messages above it (a replay, read forwards). Otherwise
   * the newest `limit` messages below `before` (and above `after`, when both are given): a page
   * of older history. Always oldest first.
   */
  async history(room: string, query: HistoryQuery): Promise<StoredMessage[]> {
    const limit = Math.min(MAX_HISTORY_LIMIT, Math.floor(query.limit));
    if (!(limit > 0)) return [];
    const after = query.after ?? 0;
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    if (query.after !== undefined && query.before === undefined) {
      return (this.#stmt.historyForward.all({ room, after, before, limit }) as MessageRow[]).map(toMessage);
    }
    const rows = this.#stmt.historyBackward.all({ room, after, before, limit }) as MessageRow[];
    return rows.reverse().map(toMessage);
  }

  async oldestKeptId(room: string): Promise<number | undefined> {
    const id = this.#stmt.oldestId.get({ room }) as number | null;
    return id ?? undefined;
  }

  async prune(room: string, keep: number): Promise<number> {
    if (!Number.isFinite(keep)) throw new RangeError(`keep must be a number, not ${keep}`);
    const { deleted, upTo, generation } = this.#write(() => {
      const lastId = this.#stmt.lastId.get(room) as number | undefined;
      if (lastId === undefined) return { deleted: 0, upTo: 0, generation: this.#recentGeneration };
      // Ids are gapless up to last_id and only the oldest are ever deleted, so the kept messages are
      // exactly last_id - keep + 1 … last_id: a range delete, with no walk over the `keep` newest rows.
      const args = { room, upTo: lastId - Math.max(0, Math.floor(keep)) };
      const deleted = this.#stmt.prune.run(args).changes;
      const generation = this.#changeRecent();
      return { deleted: deleted + this.#stmt.pruneRecent.run(args).changes, upTo: args.upTo, generation };
    });
    this.#recentGeneration = generation;
    const recent = this.#recent.get(room);
    if (recent !== undefined) {
      for (const [key, message] of recent) if (message.id <= upTo) recent.delete(key);
    }
    return deleted;
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

/** Adds a stored message with a cid to a #recent map. */
function rememberRecent(recent: Map<string, Map<string, StoredMessage>>, message: StoredMessage): void {
  let room = recent.get(message.room);
  if (room === undefined) recent.set(message.room, (room = new Map()));
  room.set(`${message.user.id} ${message.cid}`, message);
}

function prepareStatements(db: Database.Database) {
  return {
    registeredNameTaken: db.prepare('SELECT 1 FROM users WHERE name_key = ? AND guest = 0').pluck(),
    insertUser: db
      .prepare('INSERT INTO users (name, name_key, password_hash, guest, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id')
      .pluck(),
    registeredUser: db.prepare('SELECT * FROM users WHERE name_key = ? AND guest = 0'),
    userById: db.prepare('SELECT * FROM users WHERE id = ?'),

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
    insertMember: db.prepare('INSERT OR IGNORE INTO members (room, user_id) VALUES (?, ?)'),
    isMember: db.prepare('SELECT 1 FROM members WHERE room = ? AND user_id = ?').pluck(),

    advanceRoom: db.prepare('UPDATE rooms SET last_id = last_id + ? WHERE name = ? RETURNING last_id').pluck(),
    lastId: db.prepare('SELECT last_id FROM rooms WHERE name = ?').pluck(),
    recentGeneration: db.prepare('SELECT recent_generation FROM store_state').pluck(),
    advanceRecentGeneration: db.prepare('UPDATE store_state SET recent_generation = recent_generation + 1'),
    recentWithCid: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages_recent WHERE cid IS NOT NULL`),
    messageByCid: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND user_id = ? AND cid = ?`),
    insertRecent: db.prepare(`INSERT INTO messages_recent (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    moveRecent: db.prepare(
      `INSERT INTO messages (${MESSAGE_COLUMNS}) SELECT ${MESSAGE_COLUMNS} FROM messages_recent ORDER BY room, id`,
    ),
    clearRecent: db.prepare('DELETE FROM messages_recent'),
    // Each table gives at most `limit` rows of its own, already in order; the outer query merges them.
    historyForward: db.prepare(
      `SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE room = @room AND id > @after AND id < @before ORDER BY id ASC LIMIT @limit)
       UNION ALL
       SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages_recent
         WHERE room = @room AND id > @after AND id < @before ORDER BY id ASC LIMIT @limit)
       ORDER BY id ASC LIMIT @limit`,
    ),
    historyBackward: db.prepare(
      `SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages
         WHERE room = @room AND id > @after AND id < @before ORDER BY id DESC LIMIT @limit)
       UNION ALL
       SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages_recent
         WHERE room = @room AND id > @after AND id < @before ORDER BY id DESC LIMIT @limit)
       ORDER BY id DESC LIMIT @limit`,
    ),
    oldestId: db
      .prepare(
        `SELECT min(id) FROM (SELECT min(id) AS id FROM messages WHERE room = @room
         UNION ALL SELECT min(id) FROM messages_recent WHERE room = @room)`,
      )
      .pluck(),
    prune: db.prepare('DELETE FROM messages WHERE room = @room AND id <= @upTo'),
    pruneRecent: db.prepare('DELETE FROM messages_recent WHERE room = @room AND id <= @upTo'),
    ping: db.prepare('SELECT 1').pluck(),
  };
}

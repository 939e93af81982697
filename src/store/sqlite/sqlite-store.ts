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
import { cidKey } from './cid-key.js';
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
/** How often the background checkpointer copies the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * With the checkpointer running, the writer checkpoints only when the WAL passes this many pages
 * (~40 MB). The WAL starts over only when a checkpoint has copied all of it before the writer's
 * next transaction; under continuous writes the worker's copy (fsync included) rarely wins that
 * race, so it is this checkpoint, with little left to copy, that lets the WAL restart.
 */
const WAL_PAGES_BEFORE_FOREGROUND_CHECKPOINT = 10_000;
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
      this.#checkpointer = new Checkpointer(file, CHECKPOINT_INTERVAL_MS, () => {
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
    return this.#write(() => this.#append(batch));
  }

  /**
   * The hot path. Per room in the batch: one statement that advances rooms.last_id by the number of
   * new messages and returns it (which is also the existence check). Per message: one insert into
   * messages_recent, and for a message with a cid two index probes (messages_recent, messages).
   * Ids are assigned per room in array order; a duplicate takes no id. Runs inside the batch
   * transaction, so a throw stores nothing.
   */
  #append(batch: NewMessage[]): AppendResult[] {
    const s = this.#stmt;
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
      // The messages with a cid that this batch stores in this room, by `${user id} ${cid}`: a later
      // copy in the same batch is their duplicate (they are not in the database when it is looked up).
      let withCid: Map<string, StoredMessage> | undefined;
      for (const i of indexes) {
        const m = batch[i]!;
        if (m.cid !== undefined) {
          const inBatch = withCid?.get(`${m.user.id} ${m.cid}`);
          if (inBatch !== undefined) {
            results[i] = { message: inBatch, duplicate: true };
            continue;
          }
          const key = cidKey(room, m.user.id, m.cid);
          const earlier = s.messageByCid.get(key, room, m.user.id, m.cid, room, m.user.id, m.cid) as MessageRow | undefined;
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
        const key = cid === undefined ? null : cidKey(room, user.id, cid);
        const row = [room, id, user.id, user.name, message.data, message.ts, cid ?? null, key] as const;
        lastSeq = Number(s.insertRecent.run(...row).lastInsertRowid);
      }
    }
    // The move empties the table, after which seq starts again at 1: the newest seq is (at least) the
    // number of messages waiting.
    if (lastSeq >= this.#recentLimit) this.#moveRecent();
    return results;
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
    const args = { room, keep: Math.max(0, Math.floor(keep)) };
    return this.#write(() => this.#stmt.prune.run(args).changes + this.#stmt.pruneRecent.run(args).changes);
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
    // One statement for both tables: the message is in at most one of them.
    messageByCid: db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages_recent WHERE cid_key = ? AND room = ? AND user_id = ? AND cid = ?
       UNION ALL
       SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND user_id = ? AND cid = ?`,
    ),
    insertRecent: db.prepare(`INSERT INTO messages_recent (${MESSAGE_COLUMNS}, cid_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
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
    // Ids are gapless up to last_id and only the oldest are ever deleted, so the kept messages are
    // exactly last_id - keep + 1 … last_id: a range delete, with no walk over the `keep` newest rows.
    prune: db.prepare(
      'DELETE FROM messages WHERE room = @room AND id <= (SELECT last_id FROM rooms WHERE name = @room) - @keep',
    ),
    pruneRecent: db.prepare(
      'DELETE FROM messages_recent WHERE room = @room AND id <= (SELECT last_id FROM rooms WHERE name = @room) - @keep',
    ),
    ping: db.prepare('SELECT 1').pluck(),
  };
}

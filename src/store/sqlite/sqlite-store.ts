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
import { migrate } from './migrations.js';
import { nameKey } from './name-key.js';

/** The file name of the database inside the data dir. */
export const DB_FILE = 'parley.db';
/** The most messages one history call returns, whatever the caller asks for. */
export const MAX_HISTORY_LIMIT = 1000;
/** How long a write waits for another connection's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

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
  #closed = false;

  /**
   * Opens the database at `file` (a path, or ':memory:' for a throwaway store) and migrates it.
   * WAL + synchronous=NORMAL: a committed transaction survives a crash of the process (though
   * not necessarily a power cut), and readers never block the writer.
   */
  static async open(file: string): Promise<SqliteStore> {
    return new SqliteStore(file);
  }

  private constructor(file: string) {
    this.file = file;
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('foreign_keys = ON');
      migrate(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    this.#stmt = prepareStatements(db);
    this.#transaction = db.transaction((work: () => unknown) => work());
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
   * The hot path. Per message: one index probe when it has a cid, one insert. Per room in the
   * batch: one read of last_id (which is also the existence check) and one update at the end.
   * Runs inside the batch transaction, so a throw stores nothing.
   */
  #append(batch: NewMessage[]): AppendResult[] {
    const s = this.#stmt;
    const lastIds = new Map<string, number>();
    const results: AppendResult[] = [];
    for (const m of batch) {
      if (m.cid !== undefined) {
        // Also finds an earlier message of this same batch: it was inserted a moment ago.
        const earlier = s.messageByCid.get(m.room, m.user.id, m.cid) as MessageRow | undefined;
        if (earlier) {
          results.push({ message: toMessage(earlier), duplicate: true });
          continue;
        }
      }
      let last = lastIds.get(m.room);
      if (last === undefined) {
        last = s.roomLastId.get(m.room) as number | undefined;
        if (last === undefined) throw new NoSuchRoomError(m.room);
      }
      const id = last + 1;
      lastIds.set(m.room, id);
      s.insertMessage.run(m.room, id, m.user.id, m.user.name, m.data, m.ts, m.cid ?? null);
      const message: StoredMessage = { room: m.room, id, user: { id: m.user.id, name: m.user.name }, data: m.data, ts: m.ts };
      if (m.cid !== undefined) message.cid = m.cid;
      results.push({ message, duplicate: false });
    }
    for (const [room, last] of lastIds) s.setRoomLastId.run(last, room);
    return results;
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
      return (this.#stmt.historyForward.all(room, after, before, limit) as MessageRow[]).map(toMessage);
    }
    const rows = this.#stmt.historyBackward.all(room, after, before, limit) as MessageRow[];
    return rows.reverse().map(toMessage);
  }

  async oldestKeptId(room: string): Promise<number | undefined> {
    const id = this.#stmt.oldestId.get(room) as number | null;
    return id ?? undefined;
  }

  async prune(room: string, keep: number): Promise<number> {
    if (!Number.isFinite(keep)) throw new RangeError(`keep must be a number, not ${keep}`);
    return this.#stmt.prune.run({ room, keep: Math.max(0, Math.floor(keep)) }).changes;
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

    roomLastId: db.prepare('SELECT last_id FROM rooms WHERE name = ?').pluck(),
    setRoomLastId: db.prepare('UPDATE rooms SET last_id = ? WHERE name = ?'),
    messageByCid: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND user_id = ? AND cid = ?`),
    insertMessage: db.prepare(`INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    historyForward: db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND id > ? AND id < ? ORDER BY id ASC LIMIT ?`,
    ),
    historyBackward: db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND id > ? AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    oldestId: db.prepare('SELECT min(id) FROM messages WHERE room = ?').pluck(),
    // Ids are gapless up to last_id and only the oldest are ever deleted, so the kept messages are
    // exactly last_id - keep + 1 … last_id: a range delete, with no walk over the `keep` newest rows.
    prune: db.prepare(
      'DELETE FROM messages WHERE room = @room AND id <= (SELECT last_id FROM rooms WHERE name = @room) - @keep',
    ),
    ping: db.prepare('SELECT 1').pluck(),
  };
}

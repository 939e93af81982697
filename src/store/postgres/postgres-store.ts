import pg from 'pg';
import { STORE_HISTORY_MAX } from '../../protocol/limits.js';
import { directRoomName, lookAlikeKeys, nameKey, nameSkeletons } from '../../protocol/names.js';
import {
  NameTakenError,
  NoSuchRoomError,
  RoomExistsError,
  StoreUnavailableError,
  type AppendResult,
  type HistoryQuery,
  type NewMessage,
  type Room,
  type Session,
  type Store,
  type StoredMessage,
  type User,
  type UserRecord,
} from '../types.js';
import { newSessionId } from '../session-id.js';
import { migrate } from './migrations.js';
import { isUnavailable } from './unavailable.js';

/**
 * How long the store waits for PostgreSQL before a call rejects with StoreUnavailableError: a
 * server that is down refuses the connection at once; one out of reach (or hung) answers nothing.
 */
const TIMEOUTS = {
  /** Opening a connection, or waiting for a free one in the pool. */
  connectMs: 3000,
  /** One statement, on the server (statement_timeout: it is cancelled and rolled back there). */
  statementMs: 5000,
  /** One statement, on this side: no answer at all from the server (a network that went away). */
  queryMs: 7000,
  /** A transaction left open by a node that vanished holds its room locks no longer than this. */
  idleInTransactionMs: 10_000,
};
/** Connections per store (per node): one batch of appends at a time, plus reads. */
const DEFAULT_POOL_SIZE = 10;

export interface PostgresStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Told about errors of idle connections (the server went away); the pool replaces them. */
  onConnectionError?: (err: Error) => void;
}

interface UserRow {
  id: number;
  name: string;
  password_hash: string | null;
  guest: boolean;
  created_at: number;
}

interface RoomRow {
  name: string;
  private: boolean;
  direct: boolean;
  created_by: number | null;
  created_at: number;
  last_id: number;
}

interface MessageRow {
  room: string;
  id: number;
  user_id: number;
  user_name: string;
  data: string | null;
  data_bytes: Buffer | null;
  ts: number;
  cid: string | null;
}

const MESSAGE_COLUMNS = 'room, id, user_id, user_name, data, data_bytes, ts, cid';

const toRoom = (r: RoomRow): Room => ({
  name: r.name,
  private: r.private,
  direct: r.direct,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastId: r.last_id,
});

const toMessage = (r: MessageRow): StoredMessage => ({
  room: r.room,
  id: r.id,
  user: { id: r.user_id, name: r.user_name },
  data: r.data ?? r.data_bytes!.toString('utf8'),
  ts: r.ts,
  ...(r.cid === null ? {} : { cid: r.cid }),
});

/**
 * bigint columns (ids, times) as numbers: every value is below 2^53 (ids count up from 1, times
 * are milliseconds), and the Store speaks numbers. Everything else as node-postgres parses it.
 */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Advisory lock space of createUser: one name skeleton at a time, so a guest cannot slip past a registration. */
const NAME_LOCK_SPACE = 0x70617231;

/** A batch met a cid stored before that it had not looked up: nothing was stored; it starts over, looking them up. */
class EarlierCid extends Error {}

/**
 * The Store on PostgreSQL, for one node or several sharing one database. Every method is one
 * statement, or one short transaction, on a pool of connections; nothing is cached between calls,
 * so several stores (nodes) on one database always agree.
 *
 * While PostgreSQL cannot be reached, every method rejects with StoreUnavailableError within a few
 * seconds (TIMEOUTS) and ping() answers false; the pool opens new connections once it is back.
 */
export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  /** Calls not finished yet: close() waits for them. */
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  /** Connects, and migrates the database (once, whichever node gets there first). */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    // Migrations run on a connection of their own, without the statement timeouts: a future step
    // may take longer, and the other nodes wait for it on the advisory lock.
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: TIMEOUTS.connectMs });
    client.on('error', () => undefined); // reported by the query that fails
    try {
      await client.connect();
      await migrate(client);
    } catch (err) {
      throw isUnavailable(err) ? new StoreUnavailableError(`cannot reach PostgreSQL: ${(err as Error).message}`, { cause: err }) : err;
    } finally {
      await client.end().catch(() => undefined);
    }
    return new PostgresStore(url, options);
  }

  private constructor(url: string, options: PostgresStoreOptions) {
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: TIMEOUTS.connectMs,
      statement_timeout: TIMEOUTS.statementMs,
      query_timeout: TIMEOUTS.queryMs,
      idle_in_transaction_session_timeout: TIMEOUTS.idleInTransactionMs,
      keepAlive: true,
      types: TYPES,
    });
    // An idle connection that the server closed (a restart) emits 'error' on the pool, which drops
    // it; unhandled, it would end the process.
    this.#pool.on('error', (err) => options.onConnectionError?.(err));
  }

  /**
   * Runs one call: refused once the store is closed, tracked until it ends (close() waits), and
   * its connection errors turned into StoreUnavailableError.
   */
  #call<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(new Error('the store is closed'));
    const call = work().catch((err: unknown) => {
      throw isUnavailable(err) ? new StoreUnavailableError(undefined, { cause: err }) : err;
    });
    this.#inFlight.add(call);
    const forget = () => this.#inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }

  #query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    return this.#pool.query<R>(config);
  }

  /**
   * Runs `work` in one transaction on one connection: committed when it returns, rolled back when
   * it throws. A connection that failed is dropped from the pool, not reused.
   */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // A checked-out connection has no 'error' listener of the pool's: without this one, losing it
    // between two statements would end the process. The next statement reports the loss.
    let lost: Error | undefined;
    const onError = (err: Error) => void (lost = err);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      // A connection lost during COMMIT leaves the outcome unknown (see appendMessages).
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (lost === undefined && !isUnavailable(err)) {
        await client.query('ROLLBACK').catch((e: Error) => void (lost = e));
      } else {
        lost ??= err as Error;
      }
      throw err;
    } finally {
      client.off('error', onError);
      client.release(lost);
    }
  }

  // --- accounts ---

  createUser(input: { name: string; passwordHash: string | null; guest: boolean }): Promise<User> {
    const key = nameKey(input.name);
    const { folded, cased } = nameSkeletons(input.name);
    const alike = lookAlikeKeys(input.name);
    return this.#call(() =>
      this.#transaction(async (client): Promise<User> => {
        // Taken for guests too: a guest and a registration of a look-alike name one at a time. Two
        // names that look alike share a key, so they share a lock; taken in a fixed order.
        await client.query(
          'SELECT pg_advisory_xact_lock($1, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY h) AS locks',
          [NAME_LOCK_SPACE, alike],
        );
        let inserted: pg.QueryResult<{ id: number }>;
        try {
          inserted = await client.query<{ id: number }>(
            `INSERT INTO users (name, name_key, name_skeleton, name_skeleton_cased, password_hash, guest, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE name_key = $2 AND NOT guest)
               AND NOT EXISTS (SELECT 1 FROM users WHERE name_skeleton = ANY($8::text[]) AND NOT guest)
               AND NOT EXISTS (SELECT 1 FROM users WHERE name_skeleton_cased = ANY($8::text[]) AND NOT guest)
             RETURNING id`,
            [input.name, key, folded, cased, input.passwordHash, input.guest, Date.now(), alike],
          );
        } catch (err) {
          if ((err as { code?: string }).code === '23505') throw new NameTakenError(input.name);
          throw err;
        }
        const row = inserted.rows[0];
        if (row === undefined) throw new NameTakenError(input.name);
        return { id: row.id, name: input.name, guest: input.guest };
      }),
    );
  }

  findRegisteredUser(name: string): Promise<UserRecord | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<UserRow>({
        name: 'registered-user',
        text: 'SELECT * FROM users WHERE name_key = $1 AND NOT guest',
        values: [nameKey(name)],
      });
      const row = rows[0];
      if (!row) return undefined;
      return { id: row.id, name: row.name, guest: false, passwordHash: row.password_hash, createdAt: row.created_at };
    });
  }

  getUser(id: number): Promise<User | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<UserRow>({ name: 'user-by-id', text: 'SELECT * FROM users WHERE id = $1', values: [id] });
      const row = rows[0];
      return row ? { id: row.id, name: row.name, guest: row.guest } : undefined;
    });
  }

  findUsers(prefix: string, limit: number): Promise<User[]> {
    return this.#call(async () => {
      const from = nameKey(prefix);
      const { rows } = await this.#query<UserRow>({
        name: 'users-by-prefix',
        text: `SELECT id, name, guest FROM users
               WHERE name_key COLLATE "C" >= $1 AND name_key COLLATE "C" < $2
               ORDER BY guest, name_key COLLATE "C", id LIMIT $3`,
        values: [from, `${from}\u{10FFFF}`, Math.max(0, Math.floor(limit))],
      });
      return rows.map((r) => ({ id: r.id, name: r.name, guest: r.guest }));
    });
  }

  setPassword(userId: number, passwordHash: string): Promise<void> {
    return this.#call(async () => {
      // One statement, so one transaction: the new hash and no session left.
      await this.#query({
        name: 'set-password',
        text: `WITH changed AS (UPDATE users SET password_hash = $2 WHERE id = $1 AND NOT guest RETURNING id)
               DELETE FROM sessions WHERE user_id = $1`,
        values: [userId, passwordHash],
      });
    });
  }

  // --- sessions ---

  createSession(userId: number, expiresAt: number): Promise<Session> {
    const id = newSessionId();
    const now = Date.now();
    return this.#call(async () => {
      // One statement: the expired sessions forgotten, the new one inserted, its user read.
      const { rows } = await this.#query<UserRow>({
        name: 'create-session',
        text: `WITH expired AS (DELETE FROM sessions WHERE expires_at <= $4),
               inserted AS (INSERT INTO sessions (id, user_id, created_at, expires_at) SELECT $1::text, id, $4::bigint, $3::bigint FROM users WHERE id = $2 RETURNING user_id)
               SELECT u.* FROM inserted JOIN users u ON u.id = inserted.user_id`,
        values: [id, userId, expiresAt, now],
      });
      const row = rows[0];
      if (!row) throw new Error(`no user with id ${userId}`);
      return { id, user: { id: row.id, name: row.name, guest: row.guest }, expiresAt };
    });
  }

  getSession(id: string, now: number): Promise<Session | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<UserRow & { expires_at: number }>({
        name: 'session-by-id',
        text: `SELECT u.id, u.name, u.guest, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
               WHERE s.id = $1 AND s.expires_at > $2`,
        values: [id, now],
      });
      const row = rows[0];
      return row ? { id, user: { id: row.id, name: row.name, guest: row.guest }, expiresAt: row.expires_at } : undefined;
    });
  }

  endSession(id: string): Promise<void> {
    return this.#call(async () => {
      await this.#query({ name: 'end-session', text: 'DELETE FROM sessions WHERE id = $1', values: [id] });
    });
  }

  endUserSessions(userId: number): Promise<void> {
    return this.#call(async () => {
      await this.#query({ name: 'end-user-sessions', text: 'DELETE FROM sessions WHERE user_id = $1', values: [userId] });
    });
  }

  // --- rooms ---

  createRoom(input: { name: string; private: boolean; createdBy: number | null; direct?: boolean }): Promise<Room> {
    const direct = input.direct ?? false;
    // A conversation room is readable by its members only, whatever the caller passed.
    const isPrivate = input.private || direct;
    return this.#call(async () => {
      // One statement, so one transaction: the room and its creator's membership, or neither.
      const { rows } = await this.#query<RoomRow>({
        text: `WITH room AS (
                 INSERT INTO rooms (name, private, direct, created_by, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO NOTHING RETURNING *
               ), creator AS (
                 INSERT INTO members (room, user_id) SELECT name, created_by FROM room WHERE private AND created_by IS NOT NULL
               )
               SELECT * FROM room`,
        values: [input.name, isPrivate, direct, input.createdBy, Date.now()],
      });
      const row = rows[0];
      if (!row) throw new RoomExistsError(input.name);
      return toRoom(row);
    });
  }

  getRoom(name: string): Promise<Room | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<RoomRow>({ name: 'room-by-name', text: 'SELECT * FROM rooms WHERE name = $1', values: [name] });
      return rows[0] ? toRoom(rows[0]) : undefined;
    });
  }

  listRooms(forUserId: number): Promise<Room[]> {
    return this.#call(async () => {
      const { rows } = await this.#query<RoomRow>({
        name: 'visible-rooms',
        text: `SELECT * FROM rooms r
               WHERE NOT r.private OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = $1)
               ORDER BY r.name`,
        values: [forUserId],
      });
      return rows.map(toRoom);
    });
  }

  listRoomNames(forUserId: number): Promise<string[]> {
    return this.#call(async () => {
      const { rows } = await this.#query<{ name: string }>({
        name: 'visible-room-names',
        text: `SELECT r.name FROM rooms r
               WHERE NOT r.private OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = $1)
               ORDER BY r.name`,
        values: [forUserId],
      });
      return rows.map((r) => r.name);
    });
  }

  addMember(room: string, userId: number): Promise<void> {
    return this.#call(async () => {
      try {
        await this.#query({
          name: 'add-member',
          text: 'INSERT INTO members (room, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
          values: [room, userId],
        });
      } catch (err) {
        const { code, constraint } = err as { code?: string; constraint?: string };
        if (code === '23503' && constraint === 'members_room_fkey') throw new NoSuchRoomError(room);
        if (code === '23503') throw new Error(`no user with id ${userId}`, { cause: err });
        throw err;
      }
    });
  }

  isMember(room: string, userId: number): Promise<boolean> {
    return this.#call(async () => {
      const { rowCount } = await this.#query({
        name: 'is-member',
        text: 'SELECT 1 FROM members WHERE room = $1 AND user_id = $2',
        values: [room, userId],
      });
      return rowCount === 1;
    });
  }

  ensureDirectRoom(a: number, b: number): Promise<Room> {
    for (const id of [a, b]) {
      if (!Number.isSafeInteger(id) || id <= 0) return Promise.reject(new RangeError(`not a user id: ${id}`));
    }
    const name = directRoomName(a, b);
    return this.#call(async () => {
      // One statement: the room and both memberships, or nothing (an unknown user fails the
      // members' foreign key). Two nodes at once: the second insert waits for the first's commit
      // and then does nothing, so both get the same room. The members go in in id order, whoever
      // writes first: in the caller's order, A->B and B->A at once deadlocked now and then.
      const [low, high] = a < b ? [a, b] : [b, a];
      try {
        await this.#query({
          name: 'ensure-direct-room',
          text: `WITH room AS (
                   INSERT INTO rooms (name, private, direct, created_by, created_at) VALUES ($1, true, true, $2, $5)
                   ON CONFLICT (name) DO NOTHING
                 )
                 INSERT INTO members (room, user_id) VALUES ($1, $3), ($1, $4) ON CONFLICT DO NOTHING`,
          values: [name, a, low, high, Date.now()],
        });
      } catch (err) {
        if ((err as { code?: string }).code === '23503') throw new Error(`no user with id ${a} or ${b}`, { cause: err });
        throw err;
      }
      const { rows } = await this.#query<RoomRow>({ name: 'room-by-name', text: 'SELECT * FROM rooms WHERE name = $1', values: [name] });
      return toRoom(rows[0]!);
    });
  }

  // --- messages ---

  /**
   * Usually one statement, so one round trip and one implicit transaction (#store). Only when a
   * message's cid was stored before (a retry: rare) does that statement fail on the unique index
   * messages_cid, storing nothing; then the batch is stored in a transaction that locks its rooms
   * first, looks the cids up, and runs the same statement for the messages that are new.
   *
   * A connection lost while the batch commits leaves unknown whether it was stored; the call
   * rejects with StoreUnavailableError all the same. That is safe: the hub acks none of it, the
   * SDK sends the messages again with the same cids, and if the first commit did happen, the
   * unique index messages_cid makes the retry answer with the stored messages (duplicate = true)
   * instead of storing them twice. (A message without a cid could be stored twice then.)
   */
  appendMessages(batch: NewMessage[]): Promise<AppendResult[]> {
    if (batch.length === 0) return Promise.resolve([]);
    const plan = planAppend(batch);
    return this.#call(async () => {
      try {
        return await store(this.#pool, plan, undefined);
      } catch (err) {
        if (!(err instanceof EarlierCid)) throw err;
      }
      return this.#transaction(async (client) => {
        // Under these locks no other transaction can store a message in these rooms, so the
        // look-up finds every cid stored before.
        await client.query({ name: 'lock-rooms', text: LOCK_ROOMS, values: [plan.rooms] });
        return store(client, plan, await findEarlier(client, plan));
      });
    });
  }

  /**
   * With `after` alone: the first `limit` messages above it (a replay, read forwards). Otherwise
   * the newest `limit` messages below `before` (and above `after`, when both are given): a page
   * of older history. Always oldest first. Both are range scans of the primary key (room, id).
   */
  history(room: string, query: HistoryQuery): Promise<StoredMessage[]> {
    const limit = Math.min(STORE_HISTORY_MAX, Math.floor(query.limit));
    if (!(limit > 0)) return this.#call(async () => []);
    const after = query.after ?? 0;
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const forward = query.after !== undefined && query.before === undefined;
    return this.#call(async () => {
      const { rows } = await this.#query<MessageRow>({
        name: forward ? 'history-forward' : 'history-backward',
        text: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = $1 AND id > $2 AND id < $3
               ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT $4`,
        values: [room, after, before, limit],
      });
      const messages = rows.map(toMessage);
      return forward ? messages : messages.reverse();
    });
  }

  oldestKeptId(room: string): Promise<number | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<{ id: number | null }>({
        name: 'oldest-id',
        text: 'SELECT min(id) AS id FROM messages WHERE room = $1',
        values: [room],
      });
      return rows[0]?.id ?? undefined;
    });
  }

  lastIds(rooms: string[]): Promise<Map<string, number>> {
    return this.#call(async () => {
      if (rooms.length === 0) return new Map();
      const { rows } = await this.#query<{ name: string; last_id: number }>({
        name: 'last-ids',
        text: 'SELECT name, last_id FROM rooms WHERE name = ANY($1::text[])',
        values: [rooms],
      });
      return new Map(rows.map((r) => [r.name, r.last_id]));
    });
  }

  lastIdBefore(room: string, ts: number): Promise<number> {
    return this.#call(async () => {
      // Newest first along the primary key, stopping at the first one old enough (there is no
      // index on ts): asked only when a client's history and the store's disagree, which is rare.
      const { rows } = await this.#query<{ id: number }>({
        name: 'last-id-before',
        text: 'SELECT id FROM messages WHERE room = $1 AND ts < $2 ORDER BY id DESC LIMIT 1',
        values: [room, ts],
      });
      return rows[0]?.id ?? 0;
    });
  }

  prune(room: string, keep: number): Promise<number> {
    if (!Number.isFinite(keep)) return Promise.reject(new RangeError(`keep must be a number, not ${keep}`));
    return this.#call(async () => {
      // Ids are gapless up to last_id and only the oldest are ever deleted, so the kept messages are
      // exactly last_id - keep + 1 … last_id: a range delete. last_id itself is untouched, so
      // pruned ids are never handed out again.
      const { rowCount } = await this.#query({
        name: 'prune',
        text: 'DELETE FROM messages WHERE room = $1 AND id <= (SELECT last_id FROM rooms WHERE name = $1) - $2',
        values: [room, Math.max(0, Math.floor(keep))],
      });
      return rowCount ?? 0;
    });
  }

  async ping(): Promise<boolean> {
    if (this.#closing) return false;
    try {
      await this.#call(() => this.#query({ name: 'ping', text: 'SELECT 1' }));
      return true;
    } catch {
      return false;
    }
  }

  /** Waits for the calls in flight, then closes every connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#inFlight]);
      await this.#pool.end();
    })();
    return this.#closing;
  }
}

/** What appendMessages works out before it touches the database. */
interface AppendPlan {
  batch: NewMessage[];
  /** The batch's rooms, each once, in the order they first appear. */
  rooms: string[];
  /** For a message whose (room, user, cid) came earlier in the batch: that message's index. */
  firstCopy: Array<number | undefined>;
  /** Indexes of the messages with a cid that are first of their (room, user, cid) in the batch. */
  withCid: number[];
}

function planAppend(batch: NewMessage[]): AppendPlan {
  const rooms = new Set<string>();
  const firstCopy = new Array<number | undefined>(batch.length);
  const withCid: number[] = [];
  const firstByCid = new Map<string, number>();
  for (let i = 0; i < batch.length; i++) {
    const { room, user, cid } = batch[i]!;
    rooms.add(room);
    if (cid === undefined) continue;
    const key = JSON.stringify([room, user.id, cid]);
    const first = firstByCid.get(key);
    if (first === undefined) {
      firstByCid.set(key, i);
      withCid.push(i);
    } else {
      firstCopy[i] = first;
    }
  }
  return { batch, rooms: [...rooms], firstCopy, withCid };
}

/**
 * Locks the rooms in name order, so that two batches that share rooms wait for each other instead
 * of deadlocking. In READ COMMITTED, a row that another transaction changed while this one waited
 * for its lock is returned as that transaction left it: the counter is always the latest.
 */
const LOCK_ROOMS = 'SELECT name, last_id FROM rooms WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE';

/**
 * The batch in one statement: locks its rooms ($1, LOCK_ROOMS), inserts the new messages with ids
 * counted on from each room's last_id (each message's `n` is its place among the room's new ones),
 * advances each counter by the number of new messages, and returns the counters as they were. If a
 * room of the batch does not exist it stores nothing; if a message's cid was stored before, it
 * fails on messages_cid and stores nothing (a plain insert: ON CONFLICT DO NOTHING would cost every
 * row a speculative insertion, and leave gaps in the ids to mend).
 * unnest pads a NULL array with NULLs: data_bytes ($7) is sent only when a message needs it.
 */
const STORE_BATCH = `
  WITH locked AS MATERIALIZED (${LOCK_ROOMS}),
  complete AS (SELECT count(*) = cardinality($1::text[]) AS ok FROM locked),
  stored AS (
    INSERT INTO messages (${MESSAGE_COLUMNS})
    SELECT m.room, l.last_id + m.n, m.user_id, m.user_name, m.data, m.data_bytes, m.ts, m.cid
    FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bigint[], $9::text[])
      AS m (room, n, user_id, user_name, data, data_bytes, ts, cid)
    JOIN locked l ON l.name = m.room
    WHERE (SELECT ok FROM complete)
  ),
  counters AS (
    UPDATE rooms SET last_id = rooms.last_id + c.added FROM unnest($10::text[], $11::int[]) AS c (name, added)
    WHERE rooms.name = c.name AND (SELECT ok FROM complete)
  )
  SELECT name, last_id FROM locked`;

/**
 * Stores the batch's messages that are neither a repeat of one earlier in the batch nor in
 * `earlier` (the messages stored before, by batch index, once looked up), with STORE_BATCH, on the
 * pool (a transaction of its own) or on a client in a transaction. Without `earlier`, throws
 * EarlierCid if a cid was stored before.
 */
async function store(db: pg.Pool | pg.PoolClient, plan: AppendPlan, earlier: Map<number, StoredMessage> | undefined): Promise<AppendResult[]> {
  const { batch, firstCopy } = plan;
  const place = new Array<number>(batch.length);
  const added = new Map<string, number>();
  const rows = { room: [] as string[], n: [] as number[], userId: [] as number[], userName: [] as string[], data: [] as Array<string | null>, bytes: [] as Array<Buffer | null>, ts: [] as number[], cid: [] as Array<string | null> };
  let withNul = false;
  for (let i = 0; i < batch.length; i++) {
    if (firstCopy[i] !== undefined || earlier?.has(i)) continue;
    const m = batch[i]!;
    const n = (added.get(m.room) ?? 0) + 1;
    added.set(m.room, n);
    place[i] = n;
    const nul = m.data.includes('\u0000');
    withNul ||= nul;
    rows.room.push(m.room);
    rows.n.push(n);
    rows.userId.push(m.user.id);
    rows.userName.push(m.user.name);
    rows.data.push(nul ? null : m.data);
    rows.bytes.push(nul ? Buffer.from(m.data, 'utf8') : null);
    rows.ts.push(m.ts);
    rows.cid.push(m.cid ?? null);
  }
  let locked: pg.QueryResult<{ name: string; last_id: number }>;
  try {
    locked = await db.query<{ name: string; last_id: number }>({
      name: 'store-batch',
      text: STORE_BATCH,
      values: [plan.rooms, rows.room, rows.n, rows.userId, rows.userName, rows.data, withNul ? rows.bytes : null, rows.ts, rows.cid, [...added.keys()], [...added.values()]],
    });
  } catch (err) {
    const { code, constraint } = err as { code?: string; constraint?: string };
    if (code === '23505' && constraint === 'messages_cid' && earlier === undefined) throw new EarlierCid();
    throw err;
  }
  const lastIds = new Map(locked.rows.map((r) => [r.name, r.last_id]));
  for (const room of plan.rooms) if (!lastIds.has(room)) throw new NoSuchRoomError(room);
  const results = new Array<AppendResult>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const copyOf = firstCopy[i];
    if (copyOf !== undefined) {
      results[i] = { message: results[copyOf]!.message, duplicate: true };
      continue;
    }
    const stored = earlier?.get(i);
    if (stored !== undefined) {
      results[i] = { message: stored, duplicate: true };
      continue;
    }
    const m = batch[i]!;
    const message: StoredMessage = { room: m.room, id: lastIds.get(m.room)! + place[i]!, user: { id: m.user.id, name: m.user.name }, data: m.data, ts: m.ts };
    if (m.cid !== undefined) message.cid = m.cid;
    results[i] = { message, duplicate: false };
  }
  return results;
}

/** The messages stored before that have the (room, user, cid) of one of the batch's, by batch index. */
async function findEarlier(client: pg.PoolClient, plan: AppendPlan): Promise<Map<number, StoredMessage>> {
  const found = new Map<number, StoredMessage>();
  if (plan.withCid.length === 0) return found;
  const probes = plan.withCid.map((i) => plan.batch[i]!);
  const { rows } = await client.query<MessageRow & { i: number }>({
    name: 'find-earlier-cids',
    text: `SELECT p.i, ${MESSAGE_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}
           FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[]) AS p (i, room, user_id, cid)
           JOIN messages m ON m.room = p.room AND m.user_id = p.user_id AND m.cid = p.cid`,
    values: [plan.withCid, probes.map((m) => m.room), probes.map((m) => m.user.id), probes.map((m) => m.cid)],
  });
  for (const row of rows) found.set(row.i, toMessage(row));
  return found;
}

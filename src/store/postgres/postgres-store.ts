import pg from 'pg';
import { STORE_HISTORY_MAX } from '../../protocol/limits.js';
import { directRoomName, lookAlikeKeys, nameKey, nameSkeletons } from '../../protocol/names.js';
import { SearchPageBuilder } from '../search-page.js';
import { matchesSearch, searchDocument, searchKeys, searchTerms, trigrams } from '../search-text.js';
import { isPlainMessage, refuseEvent, refuseReaction, refuseReply, type TargetInfo } from '../timeline-rules.js';
import {
  NameBannedError,
  NameTakenError,
  NoSuchRoomError,
  RoomExistsError,
  StoreUnavailableError,
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
import { migrate } from './migrations.js';
import { isUnavailable } from './unavailable.js';
import { wireUser, type WireUser } from '../../protocol/frames.js';

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
/** Candidates of a search read per round, older than its first window. */
const SEARCH_CHUNK = 200;
/** The newest messages a search looks at first (see search). */
const SEARCH_WINDOW = 5000;
/** Where a message is in search order: (ts, room, id). */
type Position = [number, string, number];
/** The rooms a search covers ($5: one room or NULL for all; $6: the user, who must be able to read them and not be banned from them at $7). */
const SEARCH_SCOPE = `($5::text IS NULL OR m.room = $5) AND (NOT r.private OR EXISTS (SELECT 1 FROM members mm WHERE mm.room = r.name AND mm.user_id = $6))
  AND NOT EXISTS (SELECT 1 FROM room_restrictions b WHERE b.room = r.name AND b.user_id = $6 AND b.kind = 'ban' AND (b.until IS NULL OR b.until > $7))`;
/** Older messages given their search keys per transaction. */
const SEARCH_BACKFILL = 1000;
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
  banned: boolean;
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
  user_guest: boolean | null;
  data: string | null;
  data_bytes: Buffer | null;
  ts: number;
  cid: string | null;
  kind: number | null;
  ref: number | null;
  /** bigint[] comes as strings. */
  mentions: string[] | null;
  edited: number | null;
  deleted: boolean | null;
}

/** The columns the batch statement writes; a plain message leaves the timeline's (kind, ref, …) NULL. */
const MESSAGE_COLUMNS = 'room, id, user_id, user_name, data, data_bytes, ts, cid, user_guest';
/** Every column of a message or event row. */
const ENTRY_COLUMNS = `${MESSAGE_COLUMNS}, kind, ref, mentions, edited, deleted`;
/** The kind column of an event row (NULL for a message); see migration 6. */
const KIND = { edit: 1, delete: 2, reactOn: 3, reactOff: 4 } as const;

const toRoom = (r: RoomRow): Room => ({
  name: r.name,
  private: r.private,
  direct: r.direct,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastId: r.last_id,
});

/** The entry a row holds: a message (with what was folded into it) or an event. */
function toEntry(r: MessageRow): TimelineEntry {
  const user: WireUser = r.user_guest === true ? { id: r.user_id, name: r.user_name, guest: true } : { id: r.user_id, name: r.user_name };
  const data = r.data ?? r.data_bytes!.toString('utf8');
  let entry: TimelineEntry;
  switch (r.kind) {
    case null: {
      const m: StoredMessage = { room: r.room, id: r.id, user, data, ts: r.ts };
      if (r.cid !== null) m.cid = r.cid;
      if (r.ref !== null) m.reply = r.ref;
      if (r.mentions !== null) m.mentions = r.mentions.map(Number);
      if (r.edited !== null) m.edited = r.edited;
      if (r.deleted) m.deleted = true;
      return m;
    }
    case KIND.edit:
      entry = { kind: 'edit', room: r.room, id: r.id, user, target: r.ref!, data, ts: r.ts };
      break;
    case KIND.delete:
      entry = { kind: 'delete', room: r.room, id: r.id, user, target: r.ref!, ts: r.ts };
      break;
    default:
      entry = { kind: 'react', room: r.room, id: r.id, user, target: r.ref!, emoji: data, on: r.kind === KIND.reactOn, ts: r.ts };
  }
  if (r.cid !== null) entry.cid = r.cid;
  return entry;
}

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

  createUser(input: NewUser): Promise<User> {
    return this.#call(() => this.#transaction((client) => this.#insertUser(client, input)));
  }

  createUserSession(input: NewUser, expiresAt: number): Promise<Session> {
    const id = newSessionId();
    const now = Date.now();
    return this.#call(() =>
      this.#transaction(async (client): Promise<Session> => {
        const user = await this.#insertUser(client, input);
        await client.query({
          name: 'insert-session',
          text: `WITH expired AS (DELETE FROM sessions WHERE expires_at <= $4)
                 INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $4, $3)`,
          values: [id, user.id, expiresAt, now],
        });
        return { id, user, expiresAt };
      }),
    );
  }

  /** Inserts a new user in the transaction of `client`, or throws NameBannedError or NameTakenError. */
  async #insertUser(client: pg.PoolClient, input: NewUser): Promise<User> {
    const key = nameKey(input.name);
    const { folded, cased } = nameSkeletons(input.name);
    const alike = lookAlikeKeys(input.name);
    // Taken for guests too: a guest and a registration of a look-alike name one at a time. Two
    // names that look alike share a key, so they share a lock; taken in a fixed order.
    await client.query(
      'SELECT pg_advisory_xact_lock($1, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY h) AS locks',
      [NAME_LOCK_SPACE, alike],
    );
    const banned = await client.query({ name: 'name-banned', text: 'SELECT 1 FROM users WHERE name_key = $1 AND banned LIMIT 1', values: [key] });
    if (banned.rowCount === 1) throw new NameBannedError(input.name);
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
      return { id: row.id, name: row.name, guest: false, passwordHash: row.password_hash, createdAt: row.created_at, banned: row.banned };
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
               inserted AS (INSERT INTO sessions (id, user_id, created_at, expires_at) SELECT $1::text, id, $4::bigint, $3::bigint FROM users WHERE id = $2 AND NOT banned RETURNING user_id)
               SELECT u.* FROM inserted JOIN users u ON u.id = inserted.user_id`,
        values: [id, userId, expiresAt, now],
      });
      const row = rows[0];
      if (!row) throw new Error(`no user with id ${userId} who is not banned`);
      return { id, user: { id: row.id, name: row.name, guest: row.guest }, expiresAt };
    });
  }

  getSession(id: string, now: number): Promise<Session | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<UserRow & { expires_at: number }>({
        name: 'session-by-id',
        text: `SELECT u.id, u.name, u.guest, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
               WHERE s.id = $1 AND s.expires_at > $2 AND NOT u.banned`,
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

  setUserBanned(userId: number, banned: boolean): Promise<boolean> {
    return this.#call(async () => {
      // One statement, so one transaction: the ban and no session left.
      const { rows } = await this.#query<{ id: number }>({
        name: 'set-user-banned',
        text: `WITH changed AS (UPDATE users SET banned = $2 WHERE id = $1 RETURNING id),
               ended AS (DELETE FROM sessions WHERE $2 AND user_id IN (SELECT id FROM changed))
               SELECT id FROM changed`,
        values: [userId, banned],
      });
      return rows.length === 1;
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

  welcomeRooms(userId: number, now: number): Promise<Welcome> {
    return this.#call(async () => {
      const [names, read, moderation] = await Promise.all([
        this.#query<{ name: string }>({
          name: 'visible-room-names',
          text: `SELECT r.name FROM rooms r
                 WHERE NOT r.private OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = $1)
                 ORDER BY r.name`,
          values: [userId],
        }),
        this.#readMarkers(userId),
        this.#userModeration(userId, now),
      ]);
      return { rooms: names.rows.map((r) => r.name), read, moderation };
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

  moderate(entry: ModerationEntry): Promise<ModerationOutcome> {
    const { room, user, ts, cid } = entry;
    return this.#call(() =>
      this.#transaction(async (client): Promise<ModerationOutcome> => {
        // Locks the room's row: two actions on one room (a retry racing its first attempt on
        // another node included) are applied and logged one after the other.
        const found = await client.query('SELECT 1 FROM rooms WHERE name = $1 FOR UPDATE', [room]);
        if (found.rowCount !== 1) throw new NoSuchRoomError(room);
        if (cid !== undefined) {
          const first = await client.query<Pick<AuditRow, 'ts' | 'until' | 'role'>>(
            'SELECT ts, until, role FROM audit_log WHERE room = $1 AND by_id = $2 AND cid = $3',
            [room, entry.by, cid],
          );
          if (first.rows[0]) return duplicateOf(first.rows[0]);
        }
        switch (entry.action) {
          case 'kick':
            await client.query('DELETE FROM members WHERE room = $1 AND user_id = $2', [room, user]);
            break;
          case 'ban':
          case 'mute':
            await client.query(
              `INSERT INTO room_restrictions (room, user_id, kind, until, by_id) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (room, user_id, kind) DO UPDATE SET until = excluded.until, by_id = excluded.by_id`,
              [room, user, entry.action, entry.until ?? null, entry.by],
            );
            break;
          case 'unban':
          case 'unmute': {
            const kind = entry.action === 'unban' ? 'ban' : 'mute';
            const { rows } = await client.query<{ until: number | null }>(
              'DELETE FROM room_restrictions WHERE room = $1 AND user_id = $2 AND kind = $3 RETURNING until',
              [room, user, kind],
            );
            // One that ended by itself is gone with it, but it was not in force: nothing to lift.
            const inForce = rows.some((r) => r.until === null || r.until > ts);
            if (!inForce) return { kind: 'unchanged' };
            break;
          }
          case 'role': {
            const changed =
              entry.role === 'moderator'
                ? await client.query(`INSERT INTO room_roles (room, user_id, role) VALUES ($1, $2, 'moderator') ON CONFLICT DO NOTHING`, [room, user])
                : await client.query('DELETE FROM room_roles WHERE room = $1 AND user_id = $2', [room, user]);
            if (changed.rowCount === 0) return { kind: 'unchanged' };
            break;
          }
          case 'delete':
            break;
        }
        await client.query(
          'INSERT INTO audit_log (room, action, user_id, by_id, ts, until, role, cid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [room, entry.action, user, entry.by, ts, entry.until ?? null, entry.role ?? null, cid ?? null],
        );
        return { kind: 'applied' };
      }),
    );
  }

  roomModeration(room: string, now: number): Promise<RoomModeration> {
    return this.#call(async () => {
      const { rows } = await this.#query<Omit<RoomRestrictionRow, 'kind'> & { kind: 'ban' | 'mute' | 'moderator' }>({
        name: 'room-moderation',
        text: `SELECT user_id, NULL AS name, NULL::boolean AS guest, role AS kind, NULL::bigint AS until FROM room_roles WHERE room = $1
               UNION ALL
               SELECT r.user_id, u.name, u.guest, r.kind, r.until FROM room_restrictions r JOIN users u ON u.id = r.user_id
               WHERE r.room = $1 AND (r.until IS NULL OR r.until > $2)
               ORDER BY user_id, kind`,
        values: [room, now],
      });
      const result: RoomModeration = { moderators: [], restrictions: [] };
      for (const r of rows) {
        // A moderator's row has no name (NULL): only restrictions name their user.
        if (r.kind === 'moderator') result.moderators.push(r.user_id);
        else result.restrictions.push(toRoomRestriction({ ...r, kind: r.kind }));
      }
      return result;
    });
  }

  async #userModeration(userId: number, now: number): Promise<UserModeration> {
    const { rows } = await this.#query<Omit<RestrictionOfUserRow, 'kind'> & { kind: 'owner' | 'moderator' | 'ban' | 'mute' }>({
      name: 'user-moderation',
      text: `SELECT name AS room, 'owner' AS kind, NULL::bigint AS until, NULL::bigint AS by_id, NULL AS by_name, NULL::boolean AS by_guest
             FROM rooms WHERE created_by = $1 AND NOT direct
             UNION ALL
             SELECT room, role, NULL, NULL, NULL, NULL FROM room_roles WHERE user_id = $1
             UNION ALL
             SELECT r.room, r.kind, r.until, r.by_id, b.name, b.guest
             FROM room_restrictions r LEFT JOIN users b ON b.id = r.by_id
             WHERE r.user_id = $1 AND (r.until IS NULL OR r.until > $2)
             ORDER BY room, kind`,
      values: [userId, now],
    });
    const result: UserModeration = { owns: [], moderates: [], restrictions: [] };
    for (const r of rows) {
      if (r.kind === 'owner') result.owns.push(r.room);
      else if (r.kind === 'moderator') result.moderates.push(r.room);
      else result.restrictions.push(toRestrictionOfUser({ ...r, kind: r.kind }));
    }
    return result;
  }

  auditLog(room: string, limit: number): Promise<AuditRecord[]> {
    return this.#call(async () => {
      const { rows } = await this.#query<AuditRow>({
        name: 'audit-log',
        text: `SELECT a.action, a.user_id, u.name AS user_name, u.guest AS user_guest, a.by_id, b.name AS by_name, b.guest AS by_guest, a.ts, a.until, a.role
               FROM audit_log a JOIN users u ON u.id = a.user_id JOIN users b ON b.id = a.by_id
               WHERE a.room = $1 ORDER BY a.seq DESC LIMIT $2`,
        values: [room, Math.max(0, Math.floor(limit))],
      });
      return rows.map(toAuditRecord);
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
  appendMessages(batch: NewEntry[]): Promise<AppendResult[]> {
    if (batch.length === 0) return Promise.resolve([]);
    const plan = planAppend(batch);
    // A batch with events or replies is checked and stored entry by entry (appendEntries).
    if (!batch.every(isPlainMessage)) return this.#call(() => this.#transaction((client) => appendEntries(client, plan)));
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
   * With `after` alone: the first `limit` entries above it (a replay, read forwards). Otherwise
   * the newest `limit` entries below `before` (and above `after`, when both are given): a page
   * of older history. Always oldest first. Both are range scans of the primary key (room, id).
   */
  history(room: string, query: HistoryQuery): Promise<TimelineEntry[]> {
    return this.#call(async () => (await this.#range(room, query, false)).map(toEntry));
  }

  messages(room: string, query: HistoryQuery): Promise<MessagesPage> {
    // One snapshot (REPEATABLE READ): another node's commit cannot fall between the three reads.
    return this.#call(() =>
      this.#transaction(async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const { rows: room_ } = await client.query<{ last_id: number }>({ name: 'last-id', text: 'SELECT last_id FROM rooms WHERE name = $1', values: [room] });
        const lastId = room_[0]?.last_id ?? 0;
        const messages = (await this.#range(room, query, true, client)).map(toEntry) as StoredMessage[];
        if (messages.length === 0) return { data: messages, lastId };
        // The reactions of the page in one range, in the order they were put on (by event id).
        const { rows } = await client.query<{ target: number; emoji: string; user_id: number }>({
          name: 'reactions-between',
          text: 'SELECT target, emoji, user_id FROM reactions WHERE room = $1 AND target BETWEEN $2 AND $3 ORDER BY id',
          values: [room, messages[0]!.id, messages.at(-1)!.id],
        });
        if (rows.length > 0) {
          const byId = new Map(messages.map((m) => [m.id, m]));
          for (const r of rows) {
            const m = byId.get(r.target);
            if (m !== undefined) ((m.reactions ??= {})[r.emoji] ??= []).push(r.user_id);
          }
        }
        return { data: messages, lastId };
      }),
    );
  }

  /** The rows of a history query, oldest first: every entry, or (messagesOnly) the messages. */
  async #range(room: string, query: HistoryQuery, messagesOnly: boolean, client?: pg.PoolClient): Promise<MessageRow[]> {
    const limit = Math.min(STORE_HISTORY_MAX, Math.floor(query.limit));
    if (!(limit > 0)) return [];
    const after = query.after ?? 0;
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const forward = query.after !== undefined && query.before === undefined;
    const { rows } = await (client ?? this.#pool).query<MessageRow>({
      name: `${messagesOnly ? 'messages' : 'history'}-${forward ? 'forward' : 'backward'}`,
      text: `SELECT ${ENTRY_COLUMNS} FROM messages WHERE room = $1 AND id > $2 AND id < $3${messagesOnly ? ' AND kind IS NULL' : ''}
             ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT $4`,
      values: [room, after, before, limit],
    });
    return forward ? rows : rows.reverse();
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
      const { rows } = await this.#query<{ deleted: number }>({
        name: 'prune',
        text: `WITH upto AS (SELECT last_id - $2 AS id FROM rooms WHERE name = $1),
               gone AS (DELETE FROM messages WHERE room = $1 AND id <= (SELECT id FROM upto) RETURNING 1),
               reactions AS (DELETE FROM reactions WHERE room = $1 AND target <= (SELECT id FROM upto))
               SELECT count(*)::int AS deleted FROM gone`,
        values: [room, Math.max(0, Math.floor(keep))],
      });
      return rows[0]?.deleted ?? 0;
    });
  }

  // --- search ---

  search(query: SearchQuery): Promise<SearchPage> {
    const terms = searchTerms(query.q);
    if (terms.length === 0) return Promise.resolve({ data: [], more: false });
    const keys = searchKeys(terms);
    const scope = { room: query.room ?? null, userId: query.userId, now: query.now ?? Date.now() };
    // One snapshot: the window and what follows it see the same messages.
    return this.#call(() =>
      this.#transaction(async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const page = new SearchPageBuilder(query.limit);
        const check = (rows: MessageRow[]) => rows.map(toEntry).filter((m): m is StoredMessage => m.kind === undefined && matchesSearch(m.data, terms));
        const start: Position = [query.before ?? Number.MAX_SAFE_INTEGER, '', 0];
        // First the newest SEARCH_WINDOW messages, read along messages_newest: a common term fills a
        // page there at once, where the planner, which cannot tell how common a set of keys is,
        // might read every match through the GIN index and sort them all.
        const { rows: window } = await client.query<MessageRow>({
          name: 'search-window',
          text: `SELECT ${ENTRY_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}
                 FROM (SELECT * FROM messages WHERE kind IS NULL AND (ts, room, id) < ($2::bigint, $3::text COLLATE "C", $4::bigint)
                       ORDER BY ts DESC, room DESC, id DESC LIMIT ${SEARCH_WINDOW}) m
                 JOIN rooms r ON r.name = m.room
                 WHERE m.search_keys @> $1::text[] AND m.deleted IS NOT TRUE AND ${SEARCH_SCOPE}
                 ORDER BY m.ts DESC, m.room DESC, m.id DESC`,
          values: [keys, ...start, scope.room, scope.userId, scope.now],
        });
        const { rows: ends } = await client.query<{ ts: number; room: string; id: number }>({
          name: 'search-window-end',
          text: `SELECT ts, room, id FROM messages WHERE kind IS NULL AND (ts, room, id) < ($1::bigint, $2::text COLLATE "C", $3::bigint)
                 ORDER BY ts DESC, room DESC, id DESC OFFSET ${SEARCH_WINDOW - 1} LIMIT 1`,
          values: start,
        });
        page.add(check(window), ends[0]?.ts ?? Number.NEGATIVE_INFINITY);
        // Then, older than the window, through the GIN index, newest first, SEARCH_CHUNK at a time.
        let cursor: Position | undefined = ends[0] ? [ends[0].ts, ends[0].room, ends[0].id] : undefined;
        while (cursor !== undefined && !page.complete) {
          const { rows } = await client.query<MessageRow>({
            name: 'search-older',
            text: `SELECT ${ENTRY_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')} FROM messages m JOIN rooms r ON r.name = m.room
                   WHERE m.search_keys @> $1::text[] AND m.kind IS NULL AND m.deleted IS NOT TRUE
                     AND (m.ts, m.room, m.id) < ($2::bigint, $3::text COLLATE "C", $4::bigint) AND ${SEARCH_SCOPE}
                   ORDER BY m.ts DESC, m.room DESC, m.id DESC LIMIT ${SEARCH_CHUNK}`,
            values: [keys, ...cursor, scope.room, scope.userId, scope.now],
          });
          const last = rows.at(-1);
          page.add(check(rows), last?.ts ?? Number.NEGATIVE_INFINITY);
          cursor = rows.length === SEARCH_CHUNK && last ? [last.ts, last.room, last.id] : undefined;
        }
        page.end();
        return page.page();
      }),
    );
  }

  /**
   * Gives messages stored before search existed (migration 7) their search keys, a batch at a time,
   * in the background; several nodes share the work (SKIP LOCKED). Resolves with how many it did.
   */
  async indexOlderMessages(): Promise<number> {
    let done = 0;
    for (;;) {
      if (this.#closing) return done;
      const n = await this.#call(() =>
        this.#transaction(async (client) => {
          const { rows } = await client.query<{ room: string; id: number; data: string | null; data_bytes: Buffer | null }>({
            name: 'unindexed',
            text: `SELECT room, id, data, data_bytes FROM messages
                   WHERE search_keys IS NULL AND kind IS NULL AND deleted IS NOT TRUE LIMIT $1 FOR UPDATE SKIP LOCKED`,
            values: [SEARCH_BACKFILL],
          });
          if (rows.length === 0) return 0;
          await client.query({
            name: 'set-search-keys',
            text: `UPDATE messages SET search_keys = string_to_array(k.keys, ${KEYS_SEPARATOR_SQL})
                   FROM unnest($1::text[], $2::bigint[], $3::text[]) AS k (room, id, keys)
                   WHERE messages.room = k.room AND messages.id = k.id`,
            values: [
              rows.map((r) => r.room),
              rows.map((r) => r.id),
              rows.map((r) => searchKeysOf(r.data ?? r.data_bytes!.toString('utf8')).join(KEYS_SEPARATOR)),
            ],
          });
          return rows.length;
        }),
      );
      if (n === 0) return done;
      done += n;
    }
  }

  // --- read markers and names ---

  setReadMarker(userId: number, room: string, id: number): Promise<number | undefined> {
    return this.#call(async () => {
      const { rows } = await this.#query<{ id: number }>({
        name: 'set-read-marker',
        text: `INSERT INTO read_markers (user_id, room, id)
               SELECT $1, name, least($3::bigint, last_id) FROM rooms WHERE name = $2
               ON CONFLICT (user_id, room) DO UPDATE SET id = excluded.id WHERE excluded.id > read_markers.id
               RETURNING id`,
        values: [userId, room, id],
      });
      return rows[0]?.id;
    });
  }

  async #readMarkers(userId: number): Promise<Record<string, number>> {
    const { rows } = await this.#query<{ room: string; id: number }>({
      name: 'read-markers',
      text: `SELECT k.room, k.id FROM read_markers k JOIN rooms r ON r.name = k.room
             WHERE k.user_id = $1 AND (NOT r.private OR EXISTS (SELECT 1 FROM members m WHERE m.room = r.name AND m.user_id = $1))`,
      values: [userId],
    });
    return Object.fromEntries(rows.map((r) => [r.room, r.id]));
  }

  usersByNameKeys(keys: string[], options: { membersOf?: string } = {}): Promise<User[]> {
    return this.#call(async () => {
      if (keys.length === 0) return [];
      const { rows } =
        options.membersOf === undefined
          ? await this.#query<UserRow>({ name: 'registered-by-keys', text: 'SELECT * FROM users WHERE NOT guest AND name_key = ANY($1::text[])', values: [keys] })
          : await this.#query<UserRow>({
              name: 'members-by-keys',
              text: 'SELECT u.* FROM members m JOIN users u ON u.id = m.user_id WHERE m.room = $1 AND u.name_key = ANY($2::text[])',
              values: [options.membersOf, keys],
            });
      return rows.map((r) => ({ id: r.id, name: r.name, guest: r.guest }));
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
  batch: NewEntry[];
  /** The batch's rooms, each once, in the order they first appear. */
  rooms: string[];
  /** For a message whose (room, user, cid) came earlier in the batch: that message's index. */
  firstCopy: Array<number | undefined>;
  /** Indexes of the messages with a cid that are first of their (room, user, cid) in the batch. */
  withCid: number[];
}

function planAppend(batch: NewEntry[]): AppendPlan {
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
 * A message's search keys travel as one string per message (unnest of an array of arrays would
 * flatten it), joined with a control character, which search keys never contain.
 */
const KEYS_SEPARATOR = '\u001f';
const KEYS_SEPARATOR_SQL = 'chr(31)';
const searchKeysOf = (text: string): string[] => trigrams(searchDocument(text));

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
 * unnest pads a NULL array with NULLs: data_bytes ($7) is sent only when a message needs it, and
 * user_guest ($13, true for a guest's message, else NULL) only when a guest wrote one.
 */
const STORE_BATCH = `
  WITH locked AS MATERIALIZED (${LOCK_ROOMS}),
  complete AS (SELECT count(*) = cardinality($1::text[]) AS ok FROM locked),
  stored AS (
    INSERT INTO messages (${MESSAGE_COLUMNS}, search_keys)
    SELECT m.room, l.last_id + m.n, m.user_id, m.user_name, m.data, m.data_bytes, m.ts, m.cid, m.guest, string_to_array(m.keys, ${KEYS_SEPARATOR_SQL})
    FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bigint[], $9::text[], $13::boolean[], $12::text[])
      AS m (room, n, user_id, user_name, data, data_bytes, ts, cid, guest, keys)
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
async function store(db: pg.Pool | pg.PoolClient, plan: AppendPlan, earlier: Map<number, TimelineEntry> | undefined): Promise<AppendResult[]> {
  const { batch, firstCopy } = plan;
  const place = new Array<number>(batch.length);
  const added = new Map<string, number>();
  const rows = { room: [] as string[], n: [] as number[], userId: [] as number[], userName: [] as string[], data: [] as Array<string | null>, bytes: [] as Array<Buffer | null>, ts: [] as number[], cid: [] as Array<string | null>, guest: [] as Array<true | null>, keys: [] as string[] };
  let withGuest = false;
  let withNul = false;
  for (let i = 0; i < batch.length; i++) {
    if (firstCopy[i] !== undefined || earlier?.has(i)) continue;
    const m = batch[i] as NewMessage;
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
    rows.guest.push(m.user.guest ? true : null);
    withGuest ||= m.user.guest === true;
    rows.keys.push(searchKeysOf(m.data).join(KEYS_SEPARATOR));
  }
  let locked: pg.QueryResult<{ name: string; last_id: number }>;
  try {
    locked = await db.query<{ name: string; last_id: number }>({
      name: 'store-batch',
      text: STORE_BATCH,
      values: [plan.rooms, rows.room, rows.n, rows.userId, rows.userName, rows.data, withNul ? rows.bytes : null, rows.ts, rows.cid, [...added.keys()], [...added.values()], rows.keys, withGuest ? rows.guest : null],
    });
  } catch (err) {
    const { code, constraint } = err as { code?: string; constraint?: string };
    if (code === '23505' && constraint === 'messages_cid' && earlier === undefined) throw new EarlierCid();
    throw err;
  }
  const lastIds = new Map(locked.rows.map((r) => [r.name, r.last_id]));
  for (const room of plan.rooms) if (!lastIds.has(room)) throw new NoSuchRoomError(room);
  // A batch of plain messages: nothing in it is refused.
  const results = new Array<{ message: TimelineEntry; duplicate: boolean }>(batch.length);
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
    const m = batch[i] as NewMessage;
    const message: StoredMessage = { room: m.room, id: lastIds.get(m.room)! + place[i]!, user: wireUser(m.user), data: m.data, ts: m.ts };
    if (m.cid !== undefined) message.cid = m.cid;
    results[i] = { message, duplicate: false };
  }
  return results;
}

/** The messages stored before that have the (room, user, cid) of one of the batch's, by batch index. */
async function findEarlier(client: pg.PoolClient, plan: AppendPlan): Promise<Map<number, TimelineEntry>> {
  const found = new Map<number, TimelineEntry>();
  if (plan.withCid.length === 0) return found;
  const probes = plan.withCid.map((i) => plan.batch[i]!);
  const { rows } = await client.query<MessageRow & { i: number }>({
    name: 'find-earlier-cids',
    text: `SELECT p.i, ${ENTRY_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}
           FROM unnest($1::int[], $2::text[], $3::bigint[], $4::text[]) AS p (i, room, user_id, cid)
           JOIN messages m ON m.room = p.room AND m.user_id = p.user_id AND m.cid = p.cid`,
    values: [plan.withCid, probes.map((m) => m.room), probes.map((m) => m.user.id), probes.map((m) => m.cid)],
  });
  for (const row of rows) found.set(row.i, toEntry(row));
  return found;
}

/**
 * A batch with events or replies, in a transaction: locks its rooms, looks its cids up, then stores
 * its entries one by one, each checked against the timeline as the entries before it left it
 * (timeline-rules.ts) and folded into its target. Under the room locks no other node changes
 * these rooms meanwhile, so the checks hold across nodes.
 */
async function appendEntries(client: pg.PoolClient, plan: AppendPlan): Promise<AppendResult[]> {
  const { batch, firstCopy } = plan;
  const locked = await client.query<{ name: string; last_id: number }>({ name: 'lock-rooms', text: LOCK_ROOMS, values: [plan.rooms] });
  const lastIds = new Map(locked.rows.map((r) => [r.name, r.last_id]));
  for (const room of plan.rooms) if (!lastIds.has(room)) throw new NoSuchRoomError(room);
  const earlier = await findEarlier(client, plan);
  const results = new Array<AppendResult>(batch.length);
  const advanced = new Set<string>();
  for (let i = 0; i < batch.length; i++) {
    const copyOf = firstCopy[i];
    if (copyOf !== undefined) {
      const first = results[copyOf]!;
      results[i] = first.refused ? first : { message: first.message, duplicate: true };
      continue;
    }
    const stored = earlier.get(i);
    if (stored !== undefined) {
      results[i] = { message: stored, duplicate: true };
      continue;
    }
    const entry = batch[i]!;
    const outcome = await check(client, entry);
    if (outcome !== undefined) {
      results[i] = 'code' in outcome ? { refused: outcome } : { message: outcome, duplicate: true };
      continue;
    }
    const id = lastIds.get(entry.room)! + 1;
    lastIds.set(entry.room, id);
    advanced.add(entry.room);
    results[i] = { message: await insertEntry(client, entry, id), duplicate: false };
    await fold(client, entry, id);
  }
  const rooms = [...advanced];
  if (rooms.length > 0) {
    await client.query({
      name: 'set-last-ids',
      text: 'UPDATE rooms SET last_id = c.last_id FROM unnest($1::text[], $2::bigint[]) AS c (name, last_id) WHERE rooms.name = c.name',
      values: [rooms, rooms.map((r) => lastIds.get(r)!)],
    });
  }
  return results;
}

async function target(client: pg.PoolClient, room: string, id: number): Promise<(TargetInfo & { row: MessageRow }) | undefined> {
  const { rows } = await client.query<MessageRow>({
    name: 'entry-at',
    text: `SELECT ${ENTRY_COLUMNS} FROM messages WHERE room = $1 AND id = $2`,
    values: [room, id],
  });
  const row = rows[0];
  return row === undefined ? undefined : { message: row.kind === null, userId: row.user_id, deleted: row.deleted === true, row };
}

/**
 * Whether the entry may be stored now: undefined when it may, a refusal, or (a react on that is on
 * already) the event that put it on, which answers it.
 */
async function check(client: pg.PoolClient, entry: NewEntry): Promise<Refusal | TimelineEntry | undefined> {
  if (entry.kind === undefined) {
    return entry.reply === undefined ? undefined : refuseReply(entry.room, entry.reply, await target(client, entry.room, entry.reply));
  }
  const refused = refuseEvent(entry, await target(client, entry.room, entry.target));
  if (refused || entry.kind !== 'react') return refused;
  const { rows } = await client.query<{ mine: number | null; count: number; present: boolean }>({
    name: 'reaction-state',
    text: `SELECT max(id) FILTER (WHERE emoji = $3 AND user_id = $4) AS mine, count(DISTINCT emoji)::int AS count,
                  coalesce(bool_or(emoji = $3), false) AS present
           FROM reactions WHERE room = $1 AND target = $2`,
    values: [entry.room, entry.target, entry.emoji, entry.user.id],
  });
  const { mine, count, present } = rows[0]!;
  if (entry.on && mine !== null) return toEntry((await target(client, entry.room, mine))!.row);
  return refuseReaction(entry, mine !== null, count, present);
}

/** Inserts one entry as `id`; returns it as stored. */
async function insertEntry(client: pg.PoolClient, entry: NewEntry, id: number): Promise<TimelineEntry> {
  const { room, user, ts } = entry;
  const who = wireUser(user);
  let stored: TimelineEntry;
  let kind: number | null = null;
  let ref: number | null = null;
  let data = '';
  let mentions: number[] | null = null;
  switch (entry.kind) {
    case undefined: {
      const m: StoredMessage = { room, id, user: who, data: entry.data, ts };
      data = entry.data;
      if (entry.reply !== undefined) ref = m.reply = entry.reply;
      if (entry.mentions !== undefined) mentions = m.mentions = [...entry.mentions];
      stored = m;
      break;
    }
    case 'edit':
      stored = { kind: 'edit', room, id, user: who, target: entry.target, data: entry.data, ts };
      [kind, ref, data] = [KIND.edit, entry.target, entry.data];
      break;
    case 'delete':
      stored = { kind: 'delete', room, id, user: who, target: entry.target, ts };
      [kind, ref] = [KIND.delete, entry.target];
      break;
    case 'react':
      stored = { kind: 'react', room, id, user: who, target: entry.target, emoji: entry.emoji, on: entry.on, ts };
      [kind, ref, data] = [entry.on ? KIND.reactOn : KIND.reactOff, entry.target, entry.emoji];
      break;
  }
  if (entry.cid !== undefined) stored.cid = entry.cid;
  const nul = data.includes('\u0000');
  await client.query({
    name: 'insert-entry',
    text: `INSERT INTO messages (${ENTRY_COLUMNS}, search_keys) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $13, $9, $10, $11, NULL, NULL, $12)`,
    values: [room, id, user.id, user.name, nul ? null : data, nul ? Buffer.from(data, 'utf8') : null, ts, entry.cid ?? null, kind, ref, mentions, kind === null ? searchKeysOf(data) : null, user.guest ? true : null],
  });
  return stored;
}

/** Folds a stored event into its target: its text, its deletion (erasing every text of it), its reactions. */
async function fold(client: pg.PoolClient, entry: NewEntry, id: number): Promise<void> {
  if (entry.kind === undefined) return;
  const at = [entry.room, entry.target];
  switch (entry.kind) {
    case 'edit': {
      const nul = entry.data.includes('\u0000');
      await client.query({
        name: 'fold-edit',
        text: 'UPDATE messages SET data = $3, data_bytes = $4, edited = $5, search_keys = $6 WHERE room = $1 AND id = $2',
        values: [...at, nul ? null : entry.data, nul ? Buffer.from(entry.data, 'utf8') : null, entry.ts, searchKeysOf(entry.data)],
      });
      break;
    }
    case 'delete':
      await client.query({
        name: 'fold-delete',
        text: `WITH erased AS (
                 UPDATE messages SET data = '', data_bytes = NULL, deleted = true, edited = NULL, mentions = NULL, search_keys = NULL
                 WHERE room = $1 AND id = $2
               ), edits AS (
                 UPDATE messages SET data = '', data_bytes = NULL WHERE room = $1 AND ref = $2 AND kind = ${KIND.edit}
               )
               DELETE FROM reactions WHERE room = $1 AND target = $2`,
        values: at,
      });
      break;
    case 'react':
      await client.query(
        entry.on
          ? { name: 'add-reaction', text: 'INSERT INTO reactions (room, target, emoji, user_id, id) VALUES ($1, $2, $3, $4, $5)', values: [...at, entry.emoji, entry.user.id, id] }
          : { name: 'remove-reaction', text: 'DELETE FROM reactions WHERE room = $1 AND target = $2 AND emoji = $3 AND user_id = $4', values: [...at, entry.emoji, entry.user.id] },
      );
      break;
  }
}

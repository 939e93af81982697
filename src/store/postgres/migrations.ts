import type pg from 'pg';
import { skeletonsOfExisting } from '../name-skeletons.js';

/**
 * One step of the schema, as in the SQLite store: applied in `version` order, each at most once,
 * never edited after release. The SQL lives here so that the compiled `dist/` needs no assets.
 */
export interface Migration {
  version: number;
  name: string;
  /** The step in SQL; or */
  sql?: string;
  /** the step in code, for what SQL cannot compute (run in the same transaction). */
  run?: (client: pg.ClientBase) => Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, rooms, members, messages',
    sql: `
      -- An identity never hands out an id twice, even after the newest account is deleted.
      CREATE TABLE users (
        id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name          text    NOT NULL,
        -- NFC + lower case (nameKey, computed by the node): what "the same name" means.
        name_key      text    NOT NULL,
        password_hash text,
        guest         boolean NOT NULL,
        created_at    bigint  NOT NULL
      );
      -- Registered names are unique; guests may share a name with each other.
      CREATE UNIQUE INDEX users_registered_name ON users (name_key) WHERE NOT guest;

      -- Room names compare and sort by code point ("C"), as SQLite's do, whatever the database's locale.
      CREATE TABLE rooms (
        name       text    COLLATE "C" PRIMARY KEY,
        private    boolean NOT NULL,
        direct     boolean NOT NULL,
        created_by bigint  REFERENCES users (id),
        created_at bigint  NOT NULL,
        -- The room's sequence counter: the id of the newest message ever stored (pruning keeps it).
        -- appendMessages locks the row (FOR UPDATE) to take the next ids.
        last_id    bigint  NOT NULL DEFAULT 0
      );

      CREATE TABLE members (
        room    text   COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        PRIMARY KEY (room, user_id)
      );
      -- listRooms looks rooms up by member.
      CREATE INDEX members_by_user ON members (user_id, room);

      -- History pages and replays are range scans of the primary key (room, id).
      -- user_name is the sender's name when sent, as the message was shown.
      -- No foreign key on room: appendMessages locks the room's row in the same transaction, and a
      -- per-row check would cost every insert a trigger.
      -- PostgreSQL's text cannot hold U+0000: a message that contains it is kept as UTF-8 bytes in
      -- data_bytes, and data is NULL (every other message has data and no data_bytes).
      CREATE TABLE messages (
        room       text   COLLATE "C" NOT NULL,
        id         bigint NOT NULL,
        user_id    bigint NOT NULL,
        user_name  text   NOT NULL,
        data       text,
        data_bytes bytea,
        ts         bigint NOT NULL,
        cid        text,
        PRIMARY KEY (room, id),
        CHECK ((data IS NULL) <> (data_bytes IS NULL))
      );
      -- A retried message (same room, sender and client id) is stored once, whichever node it reached.
      CREATE UNIQUE INDEX messages_cid ON messages (room, user_id, cid) WHERE cid IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'users.name_skeleton, name_skeleton_cased: look-alike names',
    run: async (client) => {
      // The confusable skeletons of names (nameSkeletons), computed by the node since SQL cannot.
      // Registered names that look alike are refused from now on; two accounts made before that
      // already do are both kept (skeletonsOfExisting).
      await client.query('ALTER TABLE users ADD COLUMN name_skeleton text, ADD COLUMN name_skeleton_cased text');
      const { rows } = await client.query<{ id: string; name: string; guest: boolean }>('SELECT id, name, guest FROM users');
      const keys = skeletonsOfExisting(rows.map((r) => ({ id: Number(r.id), name: r.name, guest: r.guest })));
      // One statement for every row: the keys as three arrays, zipped by unnest.
      await client.query(
        `UPDATE users SET name_skeleton = k.folded, name_skeleton_cased = k.cased
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k (id, folded, cased) WHERE users.id = k.id`,
        [keys.map((k) => k.id), keys.map((k) => k.folded), keys.map((k) => k.cased)],
      );
      await client.query(`
        CREATE UNIQUE INDEX users_registered_skeleton ON users (name_skeleton) WHERE NOT guest;
        CREATE UNIQUE INDEX users_registered_skeleton_cased ON users (name_skeleton_cased) WHERE NOT guest;
      `);
    },
  },
  {
    version: 3,
    name: 'sessions: a token works only while its session exists',
    sql: `
      -- Looked up by every request and upgrade; deleted by logout, a password change or a ban.
      CREATE TABLE sessions (
        id         text   COLLATE "C" PRIMARY KEY,
        user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX sessions_by_user ON sessions (user_id);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    `,
  },
  {
    version: 4,
    name: 'users found by the start of their name (inviting someone)',
    // Byte order ("C"), so that a prefix is a range of the index whatever the database's collation.
    sql: `CREATE INDEX users_by_name_key ON users ((name_key COLLATE "C"), guest, id);`,
  },
  {
    version: 5,
    name: 'users.name_skeleton_cased folded: "AIice" looks like "alice" too, not only like "Alice"',
    run: async (client) => {
      await client.query('DROP INDEX users_registered_skeleton; DROP INDEX users_registered_skeleton_cased');
      const { rows } = await client.query<{ id: string; name: string; guest: boolean }>('SELECT id, name, guest FROM users');
      const keys = skeletonsOfExisting(rows.map((r) => ({ id: Number(r.id), name: r.name, guest: r.guest })));
      await client.query(
        `UPDATE users SET name_skeleton = k.folded, name_skeleton_cased = k.cased
         FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k (id, folded, cased) WHERE users.id = k.id`,
        [keys.map((k) => k.id), keys.map((k) => k.folded), keys.map((k) => k.cased)],
      );
      await client.query(`
        CREATE UNIQUE INDEX users_registered_skeleton ON users (name_skeleton) WHERE NOT guest;
        CREATE UNIQUE INDEX users_registered_skeleton_cased ON users (name_skeleton_cased) WHERE NOT guest;
      `);
    },
  },
  {
    version: 6,
    name: 'the timeline: edit, delete and react events, replies, mentions, reactions, read markers',
    sql: `
      -- Events share the room's id sequence with messages, so they are rows of messages: a replay
      -- reads one range. Existing rows are messages (kind NULL). Every column is NULL for a plain
      -- message, which the batch statement inserts as before.
      --   kind:     NULL a message, 1 edit, 2 delete, 3 react on, 4 react off
      --   ref:      a message: the id it replies to; an event: its target
      --   data:     an edit: the new text; a react: the emoji; a delete: ''
      --   mentions: a message: the user ids its @names named
      --   edited:   a message: the ts of its last edit (folded in by the edit)
      --   deleted:  a message: true once deleted (its text, and every edit's, is then '')
      ALTER TABLE messages
        ADD COLUMN kind smallint,
        ADD COLUMN ref bigint,
        ADD COLUMN mentions bigint[],
        ADD COLUMN edited bigint,
        ADD COLUMN deleted boolean;
      -- The events of a message (to erase its edits' text) and the replies to it; plain messages
      -- have no ref, so appending them costs this index nothing.
      CREATE INDEX messages_ref ON messages (room, ref) WHERE ref IS NOT NULL;

      -- The reactions now on each message, kept by the react events in their transaction, so a
      -- page of folded history reads them in one range. id: the event that put it on.
      CREATE TABLE reactions (
        room    text   COLLATE "C" NOT NULL,
        target  bigint NOT NULL,
        emoji   text   NOT NULL,
        user_id bigint NOT NULL,
        id      bigint NOT NULL,
        PRIMARY KEY (room, target, emoji, user_id)
      );

      -- How far each user has read each room (the highest id they said).
      CREATE TABLE read_markers (
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        room    text   COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        id      bigint NOT NULL,
        PRIMARY KEY (user_id, room)
      );
    `,
  },
  {
    version: 7,
    name: 'search: the search keys of each message, GIN-indexed',
    sql: `
      -- The search keys of a message (search-text.ts: the trigrams of its folded text and of the
      -- keys of its short terms), computed by the node that stores or edits it, so that Chinese,
      -- emoji and any script are indexed alike whatever the database's locale (pg_trgm takes only
      -- letters and digits of the locale's LC_CTYPE: none of Chinese under C). NULL for events and
      -- deleted messages. Messages stored before this step get theirs from the nodes in the
      -- background (PostgresStore.open).
      ALTER TABLE messages ADD COLUMN search_keys text[];
      CREATE INDEX messages_search ON messages USING gin (search_keys) WHERE search_keys IS NOT NULL;
      -- Newest first across rooms, for a common term (the planner reads the newest and checks them).
      CREATE INDEX messages_newest ON messages (ts, room, id) WHERE kind IS NULL;
    `,
  },
  {
    version: 8,
    name: 'messages.user_guest: a guest sender is told apart from an account of the same name',
    sql: `
      -- true when the sender was a guest, NULL for an account (what a user is never changes). Rows
      -- stored before this step take it from their sender's account.
      ALTER TABLE messages ADD COLUMN user_guest boolean;
      UPDATE messages m SET user_guest = true FROM users u WHERE u.id = m.user_id AND u.guest;
    `,
  },
  {
    version: 9,
    name: 'moderation: room roles, bans and mutes, the audit log, site-wide bans',
    sql: `
      -- A room's moderators (its owner is rooms.created_by; everyone else is a member).
      CREATE TABLE room_roles (
        room    text   COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role    text   NOT NULL CHECK (role IN ('moderator')),
        PRIMARY KEY (room, user_id)
      );
      CREATE INDEX room_roles_by_user ON room_roles (user_id, room);

      -- Bans and mutes; one that ended by itself (until <= now) is ignored where it is read.
      CREATE TABLE room_restrictions (
        room    text   COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind    text   NOT NULL CHECK (kind IN ('ban', 'mute')),
        until   bigint,
        PRIMARY KEY (room, user_id, kind)
      );
      CREATE INDEX room_restrictions_by_user ON room_restrictions (user_id, room);

      CREATE TABLE audit_log (
        seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        room    text   COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        action  text   NOT NULL,
        user_id bigint NOT NULL REFERENCES users (id),
        by_id   bigint NOT NULL REFERENCES users (id),
        ts      bigint NOT NULL,
        until   bigint,
        role    text
      );
      CREATE INDEX audit_log_by_room ON audit_log (room, seq);

      ALTER TABLE users ADD COLUMN banned boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 10,
    name: 'audit_log.cid: a retried moderation action is applied once',
    sql: `
      -- The client's id of the action; a retry (same room, actor and cid) finds the first here.
      ALTER TABLE audit_log ADD COLUMN cid text;
      CREATE UNIQUE INDEX audit_log_cid ON audit_log (room, by_id, cid) WHERE cid IS NOT NULL;
    `,
  },
  {
    version: 11,
    name: "room_restrictions.by_id: who banned or muted, for the user's welcome",
    sql: `
      ALTER TABLE room_restrictions ADD COLUMN by_id bigint REFERENCES users (id);
      -- Those in force already: the latest audit entry that put each in force says who.
      UPDATE room_restrictions r SET by_id = (
        SELECT a.by_id FROM audit_log a
        WHERE a.room = r.room AND a.user_id = r.user_id AND a.action = r.kind
        ORDER BY a.seq DESC LIMIT 1
      );
    `,
  },
];

/** Thrown when the database was migrated by a newer Parley than this one. */
export class SchemaTooNewError extends Error {
  readonly code = 'schema_too_new';
  constructor(found: number, known: number) {
    super(`the database has schema version ${found}, but this Parley knows only up to ${known}; upgrade Parley`);
  }
}

/** Thrown when the database does not store text as UTF-8 (names and messages in any script). */
export class WrongEncodingError extends Error {
  readonly code = 'wrong_encoding';
  constructor(found: string) {
    super(`the database's encoding is ${found}; Parley needs UTF8 (CREATE DATABASE … ENCODING 'UTF8')`);
  }
}

/**
 * Every node that starts runs migrate(); they may start at the same moment. The first takes this
 * transaction-scoped advisory lock and migrates; the others wait for it, then find nothing to do.
 * ('parley' in ASCII: a key no other user of the database is likely to pick.)
 */
const MIGRATION_LOCK = 0x7061726c6579;

/**
 * Brings the schema up to date in one transaction: creates `schema_migrations` if missing and
 * applies every step not recorded there. Returns the versions applied now.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const encoding = (await client.query<{ server_encoding: string }>('SHOW server_encoding')).rows[0]!.server_encoding;
  if (encoding !== 'UTF8') throw new WrongEncodingError(encoding);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text    NOT NULL,
        applied_at bigint  NOT NULL
      )
    `);
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) throw new SchemaTooNewError(newest, known);
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      if (m.sql !== undefined) await client.query(m.sql);
      await m.run?.(client);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      done.push(m.version);
    }
    await client.query('COMMIT');
    return done;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

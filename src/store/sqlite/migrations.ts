import type Database from 'better-sqlite3';
import { skeletonsOfExisting } from '../name-skeletons.js';

/**
 * One step of the schema. Steps are applied in `version` order, each at most once, and never
 * edited after release: a change to the schema is a new step at the end of the list.
 * The SQL lives here rather than in .sql files so that the compiled `dist/` needs no copied assets.
 */
export interface Migration {
  version: number;
  name: string;
  /** The step in SQL; or */
  sql?: string;
  /** the step in code, for what SQL cannot compute (run in the same transaction). */
  run?: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, rooms, members, messages',
    sql: `
      -- AUTOINCREMENT so that an id is never handed out twice, even after the newest account is deleted.
      CREATE TABLE users (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT    NOT NULL,
        -- NFC + lower case: what "the same name" means for registered accounts.
        name_key      TEXT    NOT NULL,
        password_hash TEXT,
        guest         INTEGER NOT NULL CHECK (guest IN (0, 1)),
        created_at    INTEGER NOT NULL
      );
      -- Registered names are unique; guests may share a name with each other.
      CREATE UNIQUE INDEX users_registered_name ON users (name_key) WHERE guest = 0;

      CREATE TABLE rooms (
        name       TEXT    PRIMARY KEY,
        private    INTEGER NOT NULL CHECK (private IN (0, 1)),
        direct     INTEGER NOT NULL CHECK (direct IN (0, 1)),
        created_by INTEGER REFERENCES users (id),
        created_at INTEGER NOT NULL,
        -- The room's sequence counter: the id of the newest message ever stored (pruning keeps it).
        last_id    INTEGER NOT NULL DEFAULT 0
      );

      CREATE TABLE members (
        room    TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        PRIMARY KEY (room, user_id)
      ) WITHOUT ROWID;
      -- listRooms looks rooms up by member.
      CREATE INDEX members_by_user ON members (user_id, room);

      -- Clustered by (room, id): history pages are range scans over adjacent rows.
      -- user_name is the sender's name when sent, as the message was shown.
      CREATE TABLE messages (
        room      TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        id        INTEGER NOT NULL,
        user_id   INTEGER NOT NULL,
        user_name TEXT    NOT NULL,
        data      TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        cid       TEXT,
        PRIMARY KEY (room, id)
      ) WITHOUT ROWID;
      -- A retried message (same room, sender and client id) is stored once.
      CREATE UNIQUE INDEX messages_cid ON messages (room, user_id, cid) WHERE cid IS NOT NULL;
    `,
  },
  {
    version: 2,
    name: 'messages_recent: where new messages land before they join messages',
    sql: `
      -- Appending straight to "messages" (clustered by room) dirties a leaf of the table and one of
      -- messages_cid in every room of a batch, and each dirty page is a WAL frame written per commit.
      -- New messages go here instead: rows in arrival order and two compact indexes that stay a few
      -- pages in all, so a commit writes few pages whatever the number of rooms. The store moves
      -- them into "messages" in one sorted pass when this table holds enough (several per room).
      -- A message is in exactly one of the two tables; readers look in both.
      -- No foreign key on room: appendMessages proves the room exists in the same transaction (it
      -- advances rooms.last_id first), and the move into "messages" checks the key there.
      CREATE TABLE messages_recent (
        seq       INTEGER PRIMARY KEY,
        room      TEXT    NOT NULL,
        id        INTEGER NOT NULL,
        user_id   INTEGER NOT NULL,
        user_name TEXT    NOT NULL,
        data      TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        cid       TEXT,
        -- A 32-bit hash of (room, user_id, cid): a small index key. Not unique (hashes collide);
        -- a lookup compares the full triple, and appendMessages checks for an earlier cid itself.
        cid_key   INTEGER,
        CHECK ((cid IS NULL) = (cid_key IS NULL))
      );
      CREATE UNIQUE INDEX messages_recent_room_id ON messages_recent (room, id);
      CREATE INDEX messages_recent_cid ON messages_recent (cid_key) WHERE cid_key IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'messages_recent without its cid index; store_state',
    sql: `
      -- The cid check over messages_recent is made in memory: each connection keeps the cids of the
      -- messages there, and reloads them when another connection has changed the table (below).
      -- Its hash index cost every insert a write to a random page (about 40% of the insert's time).
      CREATE TABLE messages_recent_v3 (
        seq       INTEGER PRIMARY KEY,
        room      TEXT    NOT NULL,
        id        INTEGER NOT NULL,
        user_id   INTEGER NOT NULL,
        user_name TEXT    NOT NULL,
        data      TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        cid       TEXT
      );
      INSERT INTO messages_recent_v3 (seq, room, id, user_id, user_name, data, ts, cid)
        SELECT seq, room, id, user_id, user_name, data, ts, cid FROM messages_recent;
      DROP TABLE messages_recent;
      ALTER TABLE messages_recent_v3 RENAME TO messages_recent;
      CREATE UNIQUE INDEX messages_recent_room_id ON messages_recent (room, id);

      CREATE TABLE store_state (
        id                INTEGER PRIMARY KEY CHECK (id = 1),
        -- Advanced by every transaction that changes messages_recent: a connection whose copy of
        -- its cids was loaded at another generation reloads it.
        recent_generation INTEGER NOT NULL,
        -- Advanced by the background checkpointer right after it has copied the whole WAL: that
        -- commit starts the WAL over (and fsyncs its new header) on the checkpointer's thread
        -- rather than inside the next message commit.
        wal_restarts      INTEGER NOT NULL
      );
      INSERT INTO store_state (id, recent_generation, wal_restarts) VALUES (1, 0, 0);
    `,
  },
  {
    version: 4,
    name: 'messages_recent_b: two staging tables, moved into messages a chunk per batch',
    sql: `
      -- Moving all of messages_recent into messages at once stalled one commit for as long as the
      -- move of thousands of messages over hundreds of rooms took (40-90 ms). Now new messages land in
      -- one of two staging tables; when it is full they land in the other, and the full one moves
      -- into messages a chunk per batch, in (room, id) order, and is emptied (a cheap truncation)
      -- once all of it is moved. Until then its moved rows are also in messages, as identical
      -- copies: readers merge the three tables with UNION, which drops the copies.
      CREATE TABLE messages_recent_b (
        seq       INTEGER PRIMARY KEY,
        room      TEXT    NOT NULL,
        id        INTEGER NOT NULL,
        user_id   INTEGER NOT NULL,
        user_name TEXT    NOT NULL,
        data      TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        cid       TEXT
      );
      CREATE UNIQUE INDEX messages_recent_b_room_id ON messages_recent_b (room, id);
      -- Where new messages land: 0 messages_recent, 1 messages_recent_b.
      ALTER TABLE store_state ADD COLUMN recent_active INTEGER NOT NULL DEFAULT 0 CHECK (recent_active IN (0, 1));
      -- While the other table is being moved: the last (room, id) of it moved so far ('' and 0
      -- before the first chunk). NULL when the other table is empty.
      ALTER TABLE store_state ADD COLUMN drain_room TEXT;
      ALTER TABLE store_state ADD COLUMN drain_id INTEGER;
    `,
  },
  {
    version: 5,
    name: 'users.name_skeleton, name_skeleton_cased: look-alike names',
    run: (db) => {
      // The confusable skeletons of names (nameSkeletons), computed here in JavaScript since SQL
      // cannot. Registered names that look alike are refused from now on; two accounts made before
      // that already do are both kept (skeletonsOfExisting).
      db.exec(`
        ALTER TABLE users ADD COLUMN name_skeleton TEXT;
        ALTER TABLE users ADD COLUMN name_skeleton_cased TEXT;
      `);
      const users = db.prepare('SELECT id, name, guest FROM users').all() as Array<{ id: number; name: string; guest: 0 | 1 }>;
      const update = db.prepare('UPDATE users SET name_skeleton = ?, name_skeleton_cased = ? WHERE id = ?');
      for (const u of skeletonsOfExisting(users.map((r) => ({ id: r.id, name: r.name, guest: r.guest === 1 })))) {
        update.run(u.folded, u.cased, u.id);
      }
      db.exec(`
        CREATE UNIQUE INDEX users_registered_skeleton ON users (name_skeleton) WHERE guest = 0;
        CREATE UNIQUE INDEX users_registered_skeleton_cased ON users (name_skeleton_cased) WHERE guest = 0;
      `);
    },
  },
  {
    version: 6,
    name: 'sessions: a token works only while its session exists',
    sql: `
      -- Looked up by every request and upgrade; deleted by logout, a password change or a ban.
      CREATE TABLE sessions (
        id         TEXT    PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX sessions_by_user ON sessions (user_id);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    `,
  },
  {
    version: 7,
    name: 'users found by the start of their name (inviting someone)',
    sql: `CREATE INDEX users_by_name_key ON users (name_key, guest, id);`,
  },
  {
    version: 8,
    name: 'users.name_skeleton_cased folded: "AIice" looks like "alice" too, not only like "Alice"',
    run: (db) => {
      db.exec('DROP INDEX users_registered_skeleton; DROP INDEX users_registered_skeleton_cased;');
      const users = db.prepare('SELECT id, name, guest FROM users').all() as Array<{ id: number; name: string; guest: 0 | 1 }>;
      const update = db.prepare('UPDATE users SET name_skeleton = ?, name_skeleton_cased = ? WHERE id = ?');
      for (const u of skeletonsOfExisting(users.map((r) => ({ id: r.id, name: r.name, guest: r.guest === 1 })))) {
        update.run(u.folded, u.cased, u.id);
      }
      db.exec(`
        CREATE UNIQUE INDEX users_registered_skeleton ON users (name_skeleton) WHERE guest = 0;
        CREATE UNIQUE INDEX users_registered_skeleton_cased ON users (name_skeleton_cased) WHERE guest = 0;
      `);
    },
  },
  {
    version: 9,
    name: 'the timeline: edit, delete and react events, replies, mentions, reactions, read markers',
    sql: `
      -- Events share the room's id sequence with messages, so they are rows of the same tables: a
      -- replay reads one range. Existing rows are messages (kind NULL). Every column is NULL for a
      -- plain message, which the hot path inserts as before.
      --   kind:     NULL a message, 1 edit, 2 delete, 3 react on, 4 react off
      --   ref:      a message: the id it replies to; an event: its target
      --   data:     an edit: the new text; a react: the emoji; a delete: ''
      --   mentions: a message: JSON array of the user ids its @names named
      --   edited:   a message: the ts of its last edit (folded in by the edit)
      --   deleted:  a message: 1 once deleted (its text, and every edit's, is then '')
      ${['messages', 'messages_recent', 'messages_recent_b']
        .map(
          (t) => `
      ALTER TABLE ${t} ADD COLUMN kind INTEGER;
      ALTER TABLE ${t} ADD COLUMN ref INTEGER;
      ALTER TABLE ${t} ADD COLUMN mentions TEXT;
      ALTER TABLE ${t} ADD COLUMN edited INTEGER;
      ALTER TABLE ${t} ADD COLUMN deleted INTEGER;`,
        )
        .join('')}
      -- The events of a message (to erase its edits' text) and the replies to it. Plain messages
      -- have no ref, so appending them costs this index nothing.
      CREATE INDEX messages_ref ON messages (room, ref) WHERE ref IS NOT NULL;

      -- The reactions now on each message, kept by the react events in their transaction, so a
      -- page of folded history reads them in one range. id: the event that put it on.
      CREATE TABLE reactions (
        room    TEXT    NOT NULL,
        target  INTEGER NOT NULL,
        emoji   TEXT    NOT NULL,
        user_id INTEGER NOT NULL,
        id      INTEGER NOT NULL,
        PRIMARY KEY (room, target, emoji, user_id)
      ) WITHOUT ROWID;

      -- How far each user has read each room (the highest id they said).
      CREATE TABLE read_markers (
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        room    TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        id      INTEGER NOT NULL,
        PRIMARY KEY (user_id, room)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 10,
    name: 'search: an FTS5 trigram index of messages, filled in the background',
    sql: `
      -- The search keys of each message (search-text.ts: its folded text, and keys for its short
      -- terms), as trigrams. Contentless: the text stays in the messages tables only. detail=none:
      -- a key, not where (the store checks each candidate's text). secure-delete: a deleted message's
      -- keys are taken out of the index, not marked as gone.
      CREATE VIRTUAL TABLE search USING fts5(text, content='', contentless_delete=1, tokenize='trigram case_sensitive 1', detail=none);
      INSERT INTO search (search, rank) VALUES ('secure-delete', 1);
      -- The index's rowid (doc), ordered by ts, for each indexed message.
      CREATE TABLE search_docs (
        doc  INTEGER PRIMARY KEY,
        room TEXT    NOT NULL,
        id   INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX search_docs_message ON search_docs (room, id);
      -- Every message of the room up to this id is in the index (or needs not be: events, deleted
      -- messages); the newer ones are read by the search itself until the store indexes them.
      ALTER TABLE rooms ADD COLUMN indexed_id INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 11,
    name: 'messages.user_guest: a guest sender is told apart from an account of the same name',
    sql: `
      -- 1 when the sender was a guest, NULL for an account (what a user is never changes). Rows
      -- stored before this step take it from their sender's account.
      ${['messages', 'messages_recent', 'messages_recent_b']
        .map(
          (t) => `
      ALTER TABLE ${t} ADD COLUMN user_guest INTEGER;
      UPDATE ${t} SET user_guest = 1 WHERE user_id IN (SELECT id FROM users WHERE guest = 1);`,
        )
        .join('')}
    `,
  },
  {
    version: 12,
    name: 'moderation: room roles, bans and mutes, the audit log, site-wide bans',
    sql: `
      -- A room's moderators (its owner is rooms.created_by; everyone else is a member).
      CREATE TABLE room_roles (
        room    TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role    TEXT    NOT NULL CHECK (role IN ('moderator')),
        PRIMARY KEY (room, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX room_roles_by_user ON room_roles (user_id, room);

      -- Bans and mutes; one that ended by itself (until <= now) is ignored where it is read.
      CREATE TABLE room_restrictions (
        room    TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind    TEXT    NOT NULL CHECK (kind IN ('ban', 'mute')),
        until   INTEGER,
        PRIMARY KEY (room, user_id, kind)
      ) WITHOUT ROWID;
      CREATE INDEX room_restrictions_by_user ON room_restrictions (user_id, room);

      CREATE TABLE audit_log (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        room    TEXT    NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
        action  TEXT    NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users (id),
        by_id   INTEGER NOT NULL REFERENCES users (id),
        ts      INTEGER NOT NULL,
        until   INTEGER,
        role    TEXT
      );
      CREATE INDEX audit_log_by_room ON audit_log (room, seq);

      ALTER TABLE users ADD COLUMN banned INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 13,
    name: 'audit_log.cid: a retried moderation action is applied once',
    sql: `
      -- The client's id of the action; a retry (same room, actor and cid) finds the first here.
      ALTER TABLE audit_log ADD COLUMN cid TEXT;
      CREATE UNIQUE INDEX audit_log_cid ON audit_log (room, by_id, cid) WHERE cid IS NOT NULL;
    `,
  },
  {
    version: 14,
    name: "room_restrictions.by_id: who banned or muted, for the user's welcome",
    sql: `
      ALTER TABLE room_restrictions ADD COLUMN by_id INTEGER REFERENCES users (id);
      -- Those in force already: the latest audit entry that put each in force says who.
      UPDATE room_restrictions SET by_id = (
        SELECT a.by_id FROM audit_log a
        WHERE a.room = room_restrictions.room AND a.user_id = room_restrictions.user_id AND a.action = room_restrictions.kind
        ORDER BY a.seq DESC LIMIT 1
      );
    `,
  },
];

/** Thrown when the database file was written by a newer Parley than this one. */
export class SchemaTooNewError extends Error {
  readonly code = 'schema_too_new';
  constructor(found: number, known: number) {
    super(`the database has schema version ${found}, but this Parley knows only up to ${known}; upgrade Parley`);
  }
}

/**
 * Brings the schema up to date: creates `schema_migrations` if missing and applies every step not
 * recorded there, all in one immediate transaction (so two processes opening the same new file do
 * not both migrate it). Returns the versions applied now (empty when the schema was current).
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const run = db.transaction((): number[] => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT    NOT NULL,
        applied_at INTEGER NOT NULL
      )
    `);
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]),
    );
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...applied);
    if (newest > known) throw new SchemaTooNewError(newest, known);

    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      if (m.sql !== undefined) db.exec(m.sql);
      m.run?.(db);
      record.run(m.version, m.name, Date.now());
      done.push(m.version);
    }
    return done;
  });
  return run.immediate();
}

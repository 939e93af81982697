/**
 * What other table layouts would cost the store per message, against today's SqliteStore, on the
 * same batches (scenario 4's shape: 250 rooms × 8 messages a batch, 500 rooms). Each layout gets a
 * fresh database file, some history first, then the measured batches in one transaction each. A
 * reader holds a snapshot from the start of the measured part, so that no checkpoint copies or
 * truncates the WAL: its size at the end is what the layout wrote, and a checkpoint would copy it
 * all once more. CPU is this process's (user + system) over the measured part.
 *
 *   node --import tsx bench/store-layouts.ts [--batches=150] [--cids=uuid|counter]
 *
 * The SDK's cids are random uuids (the default here); --cids=counter gives each room's messages
 * cids in order, the kindest case for a cid index.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewMessage, User } from '../src/store/types.js';
import { randomBatch, rng } from './store-batches.js';
import { wireUser } from '../src/protocol/frames.js';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const BATCHES = Number(arg('batches') ?? 150);
const CIDS = arg('cids') ?? 'uuid';
if (!Number.isSafeInteger(BATCHES) || BATCHES < 1) throw new Error('--batches must be a positive integer');
if (CIDS !== 'uuid' && CIDS !== 'counter') throw new Error('--cids must be uuid or counter');

const SHAPE = { rooms: 500, roomsPerBatch: 250, perRoom: 8 };
/** Batches of history before the measured ones (40 messages per room). */
const WARM = 10;
const ROWS_PER_INSERT = 25;

interface Layout {
  name: string;
  /** Opens a new database for `users`, each with a room of its own; append() stores one batch in one transaction. */
  open(file: string, users: User[]): Promise<{ append(batch: NewMessage[]): Promise<void>; close(): Promise<void> }>;
}

/** A layout in plain SQL: its schema, and whether each new message's cid is looked up first. */
function sqlLayout(name: string, schema: string, probeCids: boolean): Layout {
  return {
    name,
    async open(file) {
      const db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -32768');
      db.exec(schema);
      const values = Array.from({ length: ROWS_PER_INSERT }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ');
      const insert = db.prepare(`INSERT INTO log (room, id, user_id, user_name, data, ts, cid) VALUES ${values}`);
      const probe = db.prepare('SELECT 1 FROM log WHERE room = ? AND user_id = ? AND cid = ?');
      const lastId = new Map<string, number>();
      const write = db.transaction((batch: NewMessage[]) => {
        const rows: unknown[] = [];
        for (const m of batch) {
          if (probeCids) probe.get(m.room, m.user.id, m.cid);
          const id = (lastId.get(m.room) ?? 0) + 1;
          lastId.set(m.room, id);
          rows.push(m.room, id, m.user.id, m.user.name, m.data, m.ts, m.cid);
        }
        const width = ROWS_PER_INSERT * 7;
        for (let at = 0; at < rows.length; at += width) insert.run(rows.slice(at, at + width));
      });
      return {
        append: async (batch) => void write(batch),
        close: async () => void db.close(),
      };
    },
  };
}

const COLUMNS = 'room TEXT NOT NULL, id INTEGER NOT NULL, user_id INTEGER NOT NULL, user_name TEXT NOT NULL, data TEXT NOT NULL, ts INTEGER NOT NULL, cid TEXT';
const LAYOUTS: Layout[] = [
  {
    name: 'today: staged, moved into messages',
    async open(file, users) {
      const store = await SqliteStore.open(file, { backgroundCheckpoint: false });
      for (const [r, u] of users.entries()) {
        const created = await store.createUser({ name: u.name, passwordHash: null, guest: true });
        if (created.id !== u.id) throw new Error('users must be created with ids 1, 2, 3…');
        await store.createRoom({ name: `room-${r}`, private: false, createdBy: null });
      }
      return { append: async (batch) => void (await store.appendMessages(batch)), close: () => store.close() };
    },
  },
  sqlLayout(
    'clustered by room, cid index',
    `CREATE TABLE log (${COLUMNS}, PRIMARY KEY (room, id)) WITHOUT ROWID;
     CREATE UNIQUE INDEX log_cid ON log (room, user_id, cid) WHERE cid IS NOT NULL;`,
    true,
  ),
  sqlLayout(
    'arrival order, (room, id) and cid indexes',
    `CREATE TABLE log (seq INTEGER PRIMARY KEY, ${COLUMNS});
     CREATE UNIQUE INDEX log_room_id ON log (room, id);
     CREATE UNIQUE INDEX log_cid ON log (room, user_id, cid) WHERE cid IS NOT NULL;`,
    true,
  ),
  sqlLayout(
    'arrival order, (room, id) index, no cid dedupe',
    `CREATE TABLE log (seq INTEGER PRIMARY KEY, ${COLUMNS});
     CREATE UNIQUE INDEX log_room_id ON log (room, id);`,
    false,
  ),
  sqlLayout('arrival order alone (no index)', `CREATE TABLE log (seq INTEGER PRIMARY KEY, ${COLUMNS});`, false),
];

async function measure(layout: Layout): Promise<{ cpuUs: number; walBytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-layouts-'));
  try {
    const file = join(dir, 'parley.db');
    // The same users, rooms and batches for every layout.
    const users: User[] = Array.from({ length: SHAPE.rooms }, (_, r) => ({ id: r + 1, name: `u${r}`, guest: true }));
    const store = await layout.open(file, users);
    const sent = new Array<number>(SHAPE.rooms).fill(0);
    const next = (r: number): NewMessage => {
      const n = ++sent[r]!;
      const cid = CIDS === 'uuid' ? randomUUID() : `c${n}`.padEnd(36, 'z');
      return { room: `room-${r}`, user: wireUser(users[r]!), data: `message ${n} `.padEnd(100, 'x'), ts: Date.now(), cid };
    };
    const random = rng(7);
    for (let i = 0; i < WARM; i++) await store.append(randomBatch(random, SHAPE, next));
    // An empty WAL (a restarted one would be written over from its start, not grow), then a
    // snapshot that keeps any checkpoint from copying or restarting it.
    const reader = new Database(file);
    reader.pragma('wal_checkpoint(TRUNCATE)');
    reader.prepare('BEGIN').run();
    reader.prepare('SELECT count(*) FROM sqlite_schema').get();
    let messages = 0;
    const cpu = process.cpuUsage();
    for (let i = 0; i < BATCHES; i++) {
      const batch = randomBatch(random, SHAPE, next);
      messages += batch.length;
      await store.append(batch);
    }
    const used = process.cpuUsage(cpu);
    const walBytes = statSync(`${file}-wal`).size;
    reader.prepare('COMMIT').run();
    reader.close();
    await store.close();
    return { cpuUs: (used.user + used.system) / messages, walBytes: walBytes / messages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${BATCHES} batches of 250 rooms × 8 after ${WARM} of history, cids: ${CIDS}`);
console.log(`${'layout'.padEnd(48)} ${'CPU µs/msg'.padStart(10)} ${'WAL B/msg'.padStart(10)}`);
for (const layout of LAYOUTS) {
  const { cpuUs, walBytes } = await measure(layout);
  console.log(`${layout.name.padEnd(48)} ${cpuUs.toFixed(1).padStart(10)} ${walBytes.toFixed(0).padStart(10)}`);
}

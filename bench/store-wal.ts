/**
 * Where the store's WAL goes: appends batches of messages in the shape of the bench's scenario 4 to
 * a fresh on-disk SqliteStore, keeps every frame in the WAL (a reader holds its snapshot, so no
 * checkpoint copies past it), then maps each frame's page to its table or index (dbstat) and
 * prints WAL bytes per message by table. Every frame is a 4 KiB page written at a commit and
 * copied again by a checkpoint, so this is what each message costs the disk twice.
 *
 *   node --import tsx bench/store-wal.ts [--rooms-per-batch=250] [--per-room=8] [--cid-length=N]
 *                                         [--warm=40] [--batches=32]
 *
 * The bench's cids are short (c1, c2…); the SDK's are uuids: --cid-length=36 pads them to that.
 * A page is counted for its owner at the end of the run: a staging table's pages, freed when it is
 * emptied, may have been written under the other one's name.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewMessage, User } from '../src/store/types.js';
import { randomBatch, rng } from './store-batches.js';
import { wireUser } from '../src/protocol/frames.js';

function flag(name: string, fallback: number, min: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`--${name} must be an integer of at least ${min}`);
  return value;
}

/** Rooms in the store, as in scenario 4. */
const ROOMS = 500;
const ROOMS_PER_BATCH = flag('rooms-per-batch', 250, 1);
const PER_ROOM = flag('per-room', 8, 1);
const CID_LENGTH = flag('cid-length', 0, 0);
/** Batches before the WAL is read (past a move of a staging table into messages), and after. */
const WARM = flag('warm', 40, 0);
const BATCHES = flag('batches', 32, 1);
if (ROOMS_PER_BATCH > ROOMS) throw new Error(`--rooms-per-batch must be at most ${ROOMS}`);

const dir = mkdtempSync(join(tmpdir(), 'parley-store-wal-'));
const file = join(dir, 'parley.db');
// No checkpointer: the writer's own autocheckpoint cannot copy past the reader's snapshot either.
const store = await SqliteStore.open(file, { backgroundCheckpoint: false });
const users: User[] = [];
for (let i = 0; i < ROOMS; i++) users.push(await store.createUser({ name: `u${i}`, passwordHash: null, guest: true }));
for (let r = 0; r < ROOMS; r++) await store.createRoom({ name: `room-${r}`, private: false, createdBy: null });
const sent = new Array<number>(ROOMS).fill(0);
const next = (r: number): NewMessage => {
  const n = ++sent[r]!;
  const cid = `c${n}`.padEnd(CID_LENGTH, 'z');
  return { room: `room-${r}`, user: wireUser(users[r]!), data: `message ${n} `.padEnd(100, 'x'), ts: Date.now(), cid };
};
const random = rng(7);
const batchOf = () => randomBatch(random, { rooms: ROOMS, roomsPerBatch: ROOMS_PER_BATCH, perRoom: PER_ROOM }, next);
for (let i = 0; i < WARM; i++) await store.appendMessages(batchOf());
// From here on, every frame stays in the WAL.
const reader = new Database(file);
reader.prepare('BEGIN').run();
reader.prepare('SELECT count(*) FROM rooms').get();
const walBefore = readFileSync(`${file}-wal`).length;
let msgs = 0;
for (let i = 0; i < BATCHES; i++) {
  const b = batchOf();
  msgs += b.length;
  await store.appendMessages(b);
}
const wal = readFileSync(`${file}-wal`);
reader.prepare('COMMIT').run();
const frameSize = 24 + 4096;
const owner = new Map<number, string>();
const map = new Database(file, { readonly: true });
for (const row of map.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[]) owner.set(row.pageno, row.name);
const byTable = new Map<string, number>();
let frames = 0;
// The WAL header is 32 bytes; frames written before the snapshot may be overwritten, not after.
const start = Math.max(32, walBefore - ((walBefore - 32) % frameSize));
for (let off = start; off + frameSize <= wal.length; off += frameSize) {
  const page = wal.readUInt32BE(off); // the frame header's first field
  frames++;
  const t = owner.get(page) ?? '(free list, or freed since)';
  byTable.set(t, (byTable.get(t) ?? 0) + 1);
}
console.log(
  `${msgs} messages in ${BATCHES} batches of ${ROOMS_PER_BATCH} rooms × ${PER_ROOM}: ${frames} WAL frames, ` +
    `${Math.round((frames * 4096) / msgs)} bytes per message, ${Math.round(frames / BATCHES)} frames per commit`,
);
for (const [table, n] of [...byTable].sort((a, b) => b[1] - a[1])) {
  console.log(`${table.padEnd(28)} ${String(n).padStart(7)} frames ${String(Math.round((n * 4096) / msgs)).padStart(6)} B/message`);
}
map.close();
reader.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

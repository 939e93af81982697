/**
 * Micro-benchmark of SqliteStore.appendMessages: µs per message for the batch shapes the hub's
 * AppendBatcher produces (one batch per event-loop turn). Each case gets a fresh on-disk store in a
 * temp dir whose rooms already hold some history, so appends land on warm, realistic B-trees.
 *
 *   node --import tsx bench/store-append.ts [--messages=N] [--prefill=N] [--repeat=N] [--only=TEXT]
 *
 * The machine may be shared and noisy: compare figures from one run, and run it more than once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewMessage } from '../src/store/types.js';

interface Case {
  name: string;
  rooms: number;
  batch: number;
  cids: boolean;
}

const option = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
};

/** Messages appended (and timed) per case. */
const MESSAGES = option('messages', 20_000);
/** Messages already in each room before timing starts. */
const PREFILL = option('prefill', 100);
/** Timed rounds per case; the table shows the best (least disturbed by other load) and the median. */
const REPEAT = option('repeat', 3);
const ROOMS = 500;
const USERS = 5_000;

const CASES: Case[] = [];
for (const cids of [true, false]) {
  for (const batch of [50, 200, 1000]) CASES.push({ name: `${ROOMS} rooms, batch ${batch}`, rooms: ROOMS, batch, cids });
  for (const batch of [1, 100]) CASES.push({ name: `1 room, batch ${batch}`, rooms: 1, batch, cids });
}

const roomName = (i: number) => `room-${i}`;
const text = (n: number) => `message number ${n} with some ordinary chat text in it`;

/** A deterministic pseudo-random sequence, so every run and every version sees the same batches. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function setup(dir: string, rooms: number): Promise<{ store: SqliteStore; users: { id: number; name: string }[] }> {
  const store = await openSqliteStore(dir);
  const users: { id: number; name: string }[] = [];
  for (let i = 0; i < Math.min(USERS, rooms * 10); i++) {
    users.push(await store.createUser({ name: `user-${i}`, passwordHash: null, guest: true }));
  }
  for (let r = 0; r < rooms; r++) await store.createRoom({ name: roomName(r), private: false, createdBy: null });
  // History to append to: PREFILL messages per room, written in room-interleaved batches like live traffic.
  const random = rng(1);
  const total = PREFILL * rooms;
  for (let done = 0; done < total; ) {
    const batch: NewMessage[] = [];
    for (let i = 0; i < 1000 && done < total; i++, done++) {
      const r = done % rooms;
      const user = users[Math.floor(random() * users.length)]!;
      batch.push({ room: roomName(r), user, data: text(done), ts: Date.now(), cid: randomUUID() });
    }
    await store.appendMessages(batch);
  }
  return { store, users };
}

function batches(c: Case, users: { id: number; name: string }[], seed: number): NewMessage[][] {
  const random = rng(seed);
  const out: NewMessage[][] = [];
  for (let n = 0; n < MESSAGES; ) {
    const batch: NewMessage[] = [];
    for (let i = 0; i < c.batch && n < MESSAGES; i++, n++) {
      // A room's sender is one of its own ten users, as in the "every room chatting" scenario.
      const room = Math.floor(random() * c.rooms);
      const user = users[(room * 10 + Math.floor(random() * 10)) % users.length]!;
      const m: NewMessage = { room: roomName(room), user, data: text(n), ts: Date.now() };
      if (c.cids) m.cid = randomUUID();
      batch.push(m);
    }
    out.push(batch);
  }
  return out;
}

interface Result {
  usPerMessage: number;
  /**
   * Process CPU time (user + system) per message: less disturbed by other load than wall time, but
   * it includes every thread of the process (a store's background checkpointer too), while wall
   * time is what the event loop spends blocked in appendMessages.
   */
  cpuUsPerMessage: number;
  maxBatchMs: number;
}

async function runCase(c: Case, round: number): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-store-bench-'));
  try {
    const { store, users } = await setup(dir, c.rooms);
    try {
      const work = batches(c, users, 100 + round);
      let maxBatch = 0n;
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      for (const batch of work) {
        const t0 = process.hrtime.bigint();
        await store.appendMessages(batch);
        const dt = process.hrtime.bigint() - t0;
        if (dt > maxBatch) maxBatch = dt;
      }
      const elapsed = Number(process.hrtime.bigint() - start);
      const used = process.cpuUsage(cpu);
      return {
        usPerMessage: elapsed / 1000 / MESSAGES,
        cpuUsPerMessage: (used.user + used.system) / MESSAGES,
        maxBatchMs: Number(maxBatch) / 1e6,
      };
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number, width: number, digits = 1) => x.toFixed(digits).padStart(width);

console.log(`appendMessages: ${MESSAGES} messages per case, ${PREFILL} messages per room beforehand, best and median of ${REPEAT}`);
console.log(
  `${'case'.padEnd(24)} ${'cids'.padEnd(5)} ${'wall µs/msg'.padStart(12)} ${'median'.padStart(8)} ${'cpu µs/msg'.padStart(11)} ${'median'.padStart(8)} ${'max batch ms'.padStart(13)}`,
);
// --only=TEXT runs the cases whose name (and "cids"/"no cids") contains TEXT.
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
for (const c of CASES) {
  if (only !== undefined && !`${c.name} ${c.cids ? 'cids' : 'no cids'}`.includes(only)) continue;
  const results: Result[] = [];
  for (let round = 0; round < REPEAT; round++) results.push(await runCase(c, round));
  const us = results.map((r) => r.usPerMessage);
  const cpu = results.map((r) => r.cpuUsPerMessage);
  const maxMs = Math.max(...results.map((r) => r.maxBatchMs));
  console.log(
    `${c.name.padEnd(24)} ${(c.cids ? 'yes' : 'no').padEnd(5)} ${fmt(Math.min(...us), 12)} ${fmt(median(us), 8)} ` +
      `${fmt(Math.min(...cpu), 11)} ${fmt(median(cpu), 8)} ${fmt(maxMs, 13)}`,
  );
}

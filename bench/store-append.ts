/**
 * Micro-benchmark of SqliteStore.appendMessages in the batch shapes the hub's AppendBatcher
 * produces (one batch per event-loop turn), on a fresh on-disk store whose rooms already hold some
 * history. For each case it reports the time appendMessages blocks its thread per message, the
 * process's CPU per message (all threads: the checkpointer too), and the latency of one batch
 * (commit) at p50/p99/p99.9/max, which is where WAL checkpoints and fsyncs show up.
 *
 *   node --import tsx bench/store-append.ts [--baseline=REV] [--rounds=N] [--only=TEXT] [--scale=X]
 *
 * --baseline=REV also runs the store of git revision REV (extracted to a temp dir), interleaved
 * with the working tree's, round by round in alternating order: the machine is shared, so only a
 * comparison within one run means much. Every round of every case runs in a fresh child process.
 * The table shows the median over rounds of each figure, and the largest max of any round.
 *
 * To see where a slow batch went, run one case alone with --slow=MS:
 *
 *   node --import tsx bench/store-append.ts --child=CASE --impl=src/store/sqlite/sqlite-store.ts --slow=20
 *
 * It prints each batch that took MS or longer, split by the thread's schedstat into time on a CPU,
 * time waiting for one (other load on the machine), and the rest: asleep, i.e. an fsync or a lock.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NewMessage, Store } from '../src/store/types.js';
import { randomBatch, rng } from './store-batches.js';

interface Case {
  name: string;
  /** Rooms in the store; each has ten users and one publisher, as in the bench's scenario 4. */
  rooms: number;
  /** Distinct rooms per batch, and consecutive messages of each room's publisher in it. */
  roomsPerBatch: number;
  perRoom: number;
  /** Batches appended. */
  batches: number;
  /** Pause between batches: the rest of the server's event-loop turn, when the checkpointer can catch up. */
  gapMs: number;
}

/**
 * Scenario 4 (500 rooms of 10, 8 messages in flight per room) gave batches of 1,100-2,000 messages
 * in 140-250 rooms (about 8 per room) at the store's speed of 26 Nov; a faster store sees smaller
 * batches. Scenario 2 (one room, a message every 20 ms) commits one message at a time; here every
 * 2 ms so that the run is short (the checkpointer still runs between commits).
 */
const CASES: Case[] = [
  { name: '500 rooms, 250×8 per batch', rooms: 500, roomsPerBatch: 250, perRoom: 8, batches: 40, gapMs: 20 },
  { name: '500 rooms, 200×2 per batch', rooms: 500, roomsPerBatch: 200, perRoom: 2, batches: 150, gapMs: 5 },
  { name: '500 rooms, 100×1 per batch', rooms: 500, roomsPerBatch: 100, perRoom: 1, batches: 300, gapMs: 2 },
  { name: '500 rooms, 250×8, no gap', rooms: 500, roomsPerBatch: 250, perRoom: 8, batches: 60, gapMs: 0 },
  { name: '1 room, 1 per batch', rooms: 1, roomsPerBatch: 1, perRoom: 1, batches: 2000, gapMs: 2 },
];

/** Messages already in each room before timing starts. */
const PREFILL = 100;
const USERS_PER_ROOM = 10;
const DATA_BYTES = 100;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..');

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

function positive(name: string, fallback: number): number {
  const raw = arg(name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const roomName = (i: number) => `room-${i}`;
const text = (n: number) => `message ${n} `.padEnd(DATA_BYTES, 'x');

interface ChildResult {
  messages: number;
  /** Time appendMessages blocked the thread, per message. */
  usPerMessage: number;
  /** Process CPU (user + system, every thread) over the timed part, per message. */
  cpuUsPerMessage: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** The most WAL in use (frames since the last restart) seen after a batch, in MB of 4 KiB pages. */
  walMb: number;
}

// --- the child: one case against one store implementation ---

/** This thread's time on a CPU and waiting in the run queue, in ns (Linux schedstat). */
function schedstat(): [number, number] {
  const [cpu, queued] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  return [cpu!, queued!];
}

/**
 * The frames in the WAL since its last restart: mxFrame of the wal-index header at the start of the
 * -shm file (SQLite's WalIndexHdr, native byte order). Read-only, and only for this benchmark.
 */
function walFramesInUse(shm: string): number {
  const fd = openSync(shm, 'r');
  try {
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    return header.readUInt32LE(16);
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}

async function child(c: Case, impl: string, round: number, slowMs: number | undefined): Promise<ChildResult> {
  const { openSqliteStore } = (await import(pathToFileURL(impl).href)) as {
    openSqliteStore(dir: string): Promise<Store & { file: string; close(): Promise<void> }>;
  };
  const dir = await mkdtemp(join(tmpdir(), 'parley-store-bench-'));
  try {
    const store = await openSqliteStore(dir);
    try {
      const users: { id: number; name: string }[] = [];
      for (let i = 0; i < c.rooms * USERS_PER_ROOM; i++) {
        users.push(await store.createUser({ name: `user-${i}`, passwordHash: null, guest: true }));
      }
      for (let r = 0; r < c.rooms; r++) await store.createRoom({ name: roomName(r), private: false, createdBy: null });
      // Each room's publisher is its first user and numbers its cids c1, c2… as the bench's load does.
      const sent = new Array<number>(c.rooms).fill(0);
      const next = (r: number): NewMessage => {
        const n = ++sent[r]!;
        return { room: roomName(r), user: users[r * USERS_PER_ROOM]!, data: text(n), ts: Date.now(), cid: `c${n}` };
      };
      // History to append to, written room-interleaved like live traffic.
      for (let p = 0; p < PREFILL; p += 4) {
        const batch: NewMessage[] = [];
        for (let r = 0; r < c.rooms; r++) for (let i = 0; i < 4; i++) batch.push(next(r));
        await store.appendMessages(batch);
      }
      await sleep(300);

      const random = rng(100 + round);
      const shm = `${store.file}-shm`;
      const times: number[] = [];
      let messages = 0;
      let blockedNs = 0n;
      let walFrames = 0;
      const cpu = process.cpuUsage();
      for (let b = 0; b < c.batches; b++) {
        const batch = randomBatch(random, c, next);
        const sched0 = slowMs === undefined ? undefined : schedstat();
        const t0 = process.hrtime.bigint();
        await store.appendMessages(batch);
        const dt = process.hrtime.bigint() - t0;
        blockedNs += dt;
        times.push(Number(dt) / 1e6);
        if (slowMs !== undefined && Number(dt) / 1e6 >= slowMs) {
          // On the CPU, waiting for one (other load), and the rest: asleep (a lock, a disk flush).
          const [cpu1, queued1] = schedstat();
          const onCpu = (cpu1 - sched0![0]) / 1e6;
          const queued = (queued1 - sched0![1]) / 1e6;
          const asleep = Number(dt) / 1e6 - onCpu - queued;
          process.stderr.write(
            `${new Date().toISOString()} batch ${b} of ${batch.length}: ${(Number(dt) / 1e6).toFixed(1)} ms ` +
              `(cpu ${onCpu.toFixed(1)}, run queue ${queued.toFixed(1)}, asleep ${asleep.toFixed(1)})\n`,
          );
        }
        messages += batch.length;
        walFrames = Math.max(walFrames, walFramesInUse(shm));
        if (c.gapMs > 0) await sleep(c.gapMs);
      }
      const used = process.cpuUsage(cpu);
      times.sort((x, y) => x - y);
      const q = (p: number) => times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)]!;
      return {
        messages,
        usPerMessage: Number(blockedNs) / 1000 / messages,
        cpuUsPerMessage: (used.user + used.system) / messages,
        p50: q(0.5),
        p99: q(0.99),
        p999: q(0.999),
        max: times.at(-1)!,
        walMb: (walFrames * (4096 + 24)) / 2 ** 20,
      };
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --- the parent: rounds of every case, each in a fresh process ---

/** Extracts `src` of git revision `rev` into a temp dir that resolves node_modules from this repo. */
function extractRevision(rev: string): { dir: string; impl: string } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-store-baseline-'));
  const archive = execFileSync('git', ['-C', repoRoot, 'archive', rev, 'src', 'package.json'], { maxBuffer: 1 << 30 });
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return { dir, impl: join(dir, 'src/store/sqlite/sqlite-store.ts') };
}

function runChild(caseIndex: number, impl: string, round: number): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), `--child=${caseIndex}`, `--impl=${impl}`, `--round=${round}`, `--scale=${scale}`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`child for case ${caseIndex} (${impl}) exited with ${code}`));
      resolvePromise(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (x: number, width: number, digits = 1) => x.toFixed(digits).padStart(width);

/** Scales every case's number of batches (a quick look: --scale=0.25). */
const scale = positive('scale', 1);
const scaled = (c: Case): Case => ({ ...c, batches: Math.max(1, Math.round(c.batches * scale)) });

async function parent(): Promise<void> {
  const rounds = positive('rounds', 3);
  const only = arg('only');
  const baselineRev = arg('baseline');
  const current = join(repoRoot, 'src/store/sqlite/sqlite-store.ts');
  const baseline = baselineRev === undefined ? undefined : extractRevision(baselineRev);
  const impls: { label: string; impl: string }[] = [
    ...(baseline ? [{ label: baselineRev!, impl: baseline.impl }] : []),
    { label: 'working tree', impl: current },
  ];
  try {
    console.log(`appendMessages: ${PREFILL} messages per room beforehand, medians of ${rounds} rounds; batch latency in ms`);
    console.log(
      `${'case'.padEnd(28)} ${'store'.padEnd(14)} ${'µs/msg'.padStart(7)} ${'cpu µs'.padStart(7)} ` +
        `${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'p99.9'.padStart(7)} ${'max'.padStart(7)} ${'max all'.padStart(8)} ${'WAL MB'.padStart(7)}`,
    );
    for (const [index, c] of CASES.entries()) {
      if (only !== undefined && !c.name.includes(only)) continue;
      const results = impls.map(() => [] as ChildResult[]);
      for (let round = 0; round < rounds; round++) {
        // Alternate the order, so neither store always runs first after the other's disk writes.
        const order = impls.map((_, i) => i);
        if (round % 2 === 1) order.reverse();
        for (const i of order) results[i]!.push(await runChild(index, impls[i]!.impl, round));
      }
      for (const [i, { label }] of impls.entries()) {
        const rs = results[i]!;
        const m = (f: (r: ChildResult) => number) => median(rs.map(f));
        console.log(
          `${(i === 0 ? c.name : '').padEnd(28)} ${label.slice(0, 14).padEnd(14)} ${fmt(m((r) => r.usPerMessage), 7)} ` +
            `${fmt(m((r) => r.cpuUsPerMessage), 7)} ${fmt(m((r) => r.p50), 7, 2)} ${fmt(m((r) => r.p99), 7, 2)} ` +
            `${fmt(m((r) => r.p999), 7, 2)} ${fmt(m((r) => r.max), 7, 2)} ${fmt(Math.max(...rs.map((r) => r.max)), 8, 2)} ` +
            `${fmt(m((r) => r.walMb), 7)}`,
        );
      }
    }
  } finally {
    if (baseline) rmSync(baseline.dir, { recursive: true, force: true });
  }
}

const childArg = arg('child');
if (childArg === undefined) {
  await parent();
} else {
  const c = CASES[Number(childArg)];
  const impl = arg('impl');
  if (c === undefined || impl === undefined) throw new Error('--child needs a case index and --impl');
  // --slow=MS (with --child) logs every batch that took MS or longer, with the time, to stderr.
  const slow = arg('slow');
  const result = await child(scaled(c), impl, Number(arg('round') ?? 0), slow === undefined ? undefined : Number(slow));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

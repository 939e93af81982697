import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Keeps the WAL short from a worker thread, with the worker's own connection, so that the writer's
 * commits do not wait for a disk flush. What decides how (found with `strace -f -T` and the
 * per-thread schedstat of bench/store-append.ts; an fsync on this machine's disk takes 0.8 ms at the
 * median and 12-28 ms at the tail):
 *
 * - A checkpoint copies WAL frames into the database file and fsyncs both files. Run by the writer
 *   (SQLite's wal_autocheckpoint) it blocked a commit for 100-500 ms at 40 MB of WAL. Here a PASSIVE
 *   checkpoint, which takes no lock that the writer waits for, runs once the WAL holds
 *   `restartFrames` (its length is read from the wal-index header), and again every
 *   `busyIntervalMs` until it has caught up.
 * - SQLite fsyncs the database file only after a checkpoint that reached the WAL's live end. Under
 *   continuous writes that never happens here, and the writer's own checkpoint then had to flush
 *   every page copied since. So this thread fdatasyncs the file after each checkpoint.
 * - The WAL starts over once all of it is copied, in the first commit after that, which writes a
 *   new WAL header and fsyncs it (power-loss safety, kept by synchronous=NORMAL). So right after a
 *   checkpoint that copied everything, this thread makes that commit itself (a counter in
 *   `store_state`), before the writer's next one. It holds the write lock for that fsync, so it is
 *   done only for a WAL of some length, not every tick; and it never waits for the writer.
 *
 * Under writes that never pause, no PASSIVE checkpoint catches up, and the WAL is bounded by the
 * writer's own wal_autocheckpoint (see the store), which then copies and flushes only the little
 * this thread has not. (A RESTART checkpoint from here would make the writer wait just the same, and
 * SQLite's busy handler polls: a writer that commits back to back wins every time.)
 *
 * The descriptors it reads and fsyncs are SQLite's own, found in /proc/self/fd (on Linux; elsewhere
 * it checkpoints every `intervalMs` and fsyncs nothing itself): it never opens or closes one, since
 * closing any descriptor of a file drops every POSIX lock the process holds on it.
 *
 * Durability does not depend on any of this: with WAL and synchronous=NORMAL a commit survives a
 * process crash once it is in the WAL, whoever copies it later.
 */
export interface CheckpointerOptions {
  /** How often to copy new WAL frames into the database file. */
  intervalMs: number;
  /** How soon to try again while the WAL still holds `restartFrames` or more (the writer keeps writing). */
  busyIntervalMs: number;
  /** Checkpoint and start the WAL over once it holds this many frames (where the size can be read). */
  restartFrames: number;
  /** After a restart, the WAL file is truncated to this many bytes (it would keep its largest size). */
  walSizeLimitBytes: number;
}

export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #alive = true;

  /** Starts checkpointing `file`. `onFailure` runs once if the worker dies. */
  constructor(file: string, options: CheckpointerOptions, onFailure: (err: unknown) => void) {
    // Resolved here, so that the worker (whose eval'd source has no module location of its own)
    // loads the same driver; this works in a worker thread too (SqliteStore inside WorkerStore).
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, ...options } });
    // It must not keep the process alive on its own; close() stops it properly.
    this.#worker.unref();
    this.#worker.on('error', (err) => {
      this.#alive = false;
      onFailure(err);
    });
    this.#exited = new Promise((resolve) => this.#worker.once('exit', () => resolve()));
  }

  /** Stops the worker after its current checkpoint and closes its connection. */
  async stop(): Promise<void> {
    if (this.#alive) {
      // Referenced again, or a process with nothing else to do would exit while we wait here.
      this.#worker.ref();
      this.#worker.postMessage('stop');
    }
    this.#alive = false;
    await this.#exited;
  }
}

/** The worker, as CommonJS source (so the compiled dist/ needs no extra file). */
const WORKER_SOURCE = `
const { fdatasyncSync, readdirSync, readlinkSync, readSync, realpathSync } = require('node:fs');
const { endianness } = require('node:os');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { file, intervalMs, busyIntervalMs, restartFrames, walSizeLimitBytes } = workerData;

// The descriptors of this process open on a file (Linux; elsewhere none are found). Those used here
// are SQLite's own: read or fsynced, never opened or closed here (closing any descriptor of a file
// drops every POSIX lock this process holds on it, and SQLite's locks are such locks).
const descriptorsOf = (path) => {
  const found = [];
  try {
    for (const name of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync('/proc/self/fd/' + name) === path) found.push(Number(name));
      } catch {}
    }
  } catch {}
  return found;
};
const dbPath = realpathSync(file);
const before = new Set(descriptorsOf(dbPath));
const db = new Database(file);
// A read opens the WAL index too.
db.prepare('SELECT wal_restarts FROM store_state').get();
// This connection's descriptor of the database file, which stays open as long as it does.
const dbFd = descriptorsOf(dbPath).find((fd) => !before.has(fd));
// The WAL index, shared by all connections of the process (open while this one is).
const shmFd = descriptorsOf(dbPath + '-shm')[0];
const header = Buffer.alloc(20);
// Frames in the WAL: mxFrame of the wal-index header at the start of -shm (native byte order; see
// sqlite.org/walformat.html). A torn read only makes a checkpoint come a tick early or late.
const walFrames = () => {
  if (shmFd === undefined) return undefined;
  try {
    readSync(shmFd, header, 0, 20, 0);
    return endianness() === 'LE' ? header.readUInt32LE(16) : header.readUInt32BE(16);
  } catch {
    return undefined;
  }
};
db.pragma('synchronous = NORMAL');
// Never wait for the writer: a restart that finds it writing is skipped (it has added frames anyway).
db.pragma('busy_timeout = 0');
db.pragma('journal_size_limit = ' + walSizeLimitBytes);
const restart = db.prepare('UPDATE store_state SET wal_restarts = wal_restarts + 1');
// The first commit after a complete checkpoint starts the WAL over, with its header fsync: this one.
const startOver = db.transaction(() => restart.run());
let stopped = false;
let timer;
const tick = () => {
  let behind = false;
  try {
    // A short WAL is left alone: each restart is an fsync under the write lock, which a commit
    // arriving meanwhile waits for, and copying the same hot pages every tick is work for nothing.
    const frames = walFrames();
    if (frames === undefined || frames >= restartFrames) {
      // log and checkpointed count the frames as of the checkpoint's start: if the writer committed
      // since, the WAL cannot start over (and the write below, if it gets the lock, adds a frame).
      const { busy, log, checkpointed } = db.pragma('wal_checkpoint(PASSIVE)')[0];
      behind = log >= restartFrames;
      // SQLite fsyncs the database file only after a checkpoint that reached the WAL's live end,
      // which under continuous writes only the writer's own checkpoint does: it would then flush
      // every page copied since. Flushed here instead, a little at a time.
      if (log > 0 && dbFd !== undefined) fdatasyncSync(dbFd);
      if (busy === 0 && log > 0 && checkpointed === log) startOver.immediate();
    }
  } catch {
    // Busy (the writer holds the lock, or another checkpoint runs): the next tick tries again.
  }
  // Behind a writer that keeps writing: again soon, so that what is left to copy stays small.
  if (!stopped) timer = setTimeout(tick, behind ? busyIntervalMs : intervalMs);
};
timer = setTimeout(tick, intervalMs);
parentPort.on('message', (msg) => {
  if (msg !== 'stop') return;
  stopped = true;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
`;

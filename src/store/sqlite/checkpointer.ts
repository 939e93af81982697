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
 *   checkpoint runs every `intervalMs` (every `busyIntervalMs` while the WAL is long); it takes no
 *   lock that the writer waits for.
 * - SQLite fsyncs the database file only after a checkpoint that reached the WAL's end. Under
 *   continuous writes that never happens here, and the writer's own checkpoint then had to flush
 *   every page copied since. So this thread fdatasyncs the file after each partial checkpoint,
 *   through SQLite's own descriptor of its connection (found in /proc/self/fd; never opened or
 *   closed here: closing any descriptor of the file would drop this process's POSIX locks on it).
 * - The WAL starts over once all of it is copied, in the first commit after that, which writes a
 *   new WAL header and fsyncs it (power-loss safety, kept by synchronous=NORMAL). So right after a
 *   checkpoint that copied everything, this thread makes that commit itself (a counter in
 *   `store_state`), before the writer's next one.
 *
 * Under writes that never pause, no PASSIVE checkpoint catches up, and the WAL is bounded by the
 * writer's own wal_autocheckpoint (see the store), which then copies and flushes only the little
 * this thread has not. (A RESTART checkpoint from here would make the writer wait just the same, and
 * SQLite's busy handler polls: a writer that commits back to back wins every time.)
 *
 * Durability does not depend on any of this: with WAL and synchronous=NORMAL a commit survives a
 * process crash once it is in the WAL, whoever copies it later.
 */
export interface CheckpointerOptions {
  /** How often to copy new WAL frames into the database file. */
  intervalMs: number;
  /** How soon to try again when the WAL had at least `behindFrames` frames (the writer keeps writing). */
  busyIntervalMs: number;
  behindFrames: number;
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
const { readdirSync, readlinkSync, realpathSync, fdatasyncSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { file, intervalMs, busyIntervalMs, behindFrames, walSizeLimitBytes } = workerData;

// The descriptors of this process open on the database file (Linux; elsewhere none are found).
const target = realpathSync(file);
const descriptorsOfFile = () => {
  const found = [];
  try {
    for (const name of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync('/proc/self/fd/' + name) === target) found.push(Number(name));
      } catch {}
    }
  } catch {}
  return found;
};
const before = new Set(descriptorsOfFile());
const db = new Database(file);
// SQLite's own descriptor of this connection: fsynced from here, never opened or closed (closing any
// descriptor of the file would drop every POSIX lock this process holds on it).
const dbFd = descriptorsOfFile().find((fd) => !before.has(fd));
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
    // log and checkpointed count the frames as of the checkpoint's start: if the writer committed
    // since, the WAL cannot start over (and the write below, if it gets the lock, adds a frame).
    const { busy, log, checkpointed } = db.pragma('wal_checkpoint(PASSIVE)')[0];
    behind = log >= behindFrames;
    // SQLite fsyncs the database file only after a checkpoint that reached the WAL's live end,
    // which under continuous writes only the writer's own checkpoint does: it would then flush every
    // page copied since. Flushed here instead, a little at a time (next to nothing when SQLite did).
    if (log > 0 && dbFd !== undefined) fdatasyncSync(dbFd);
    if (busy === 0 && log > 0 && checkpointed === log) startOver.immediate();
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

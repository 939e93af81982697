import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Keeps the WAL short from a worker thread, with the worker's own connection, so that the writer's
 * commits never wait for a disk flush. Two things about SQLite's WAL decide how (measured with
 * `strace -f -T` on bench/store-append.ts; an fsync on this machine's disk takes 0.8 ms at the
 * median and 12-28 ms at the tail):
 *
 * - A checkpoint copies WAL frames into the database file and fsyncs both files. Run by the writer
 *   (SQLite's wal_autocheckpoint), it blocked a commit for 100-500 ms at 40 MB of WAL. Here a
 *   PASSIVE checkpoint runs every `intervalMs` in this thread; it takes no lock the writer waits for.
 * - The WAL starts over only once it is completely copied, and then the first commit after that
 *   writes a new WAL header and fsyncs it (power-loss safety; synchronous=NORMAL keeps it). So after
 *   a checkpoint that copied everything, this thread itself makes that first commit (a counter in
 *   `store_state`), taking the fsync off the writer's path.
 *
 * Under continuous writes no PASSIVE checkpoint ever catches up (the writer commits during its
 * fsync), so the WAL is bounded by the writer's own wal_autocheckpoint (see the store): it then
 * copies only what this thread has not copied yet. A RESTART checkpoint from here would do the same
 * with the writer waiting, but SQLite's busy handler polls, and a writer that commits back to back
 * wins every time.
 *
 * Durability does not depend on it: with WAL and synchronous=NORMAL a commit survives a process
 * crash once it is in the WAL, whoever copies it later.
 */
export interface CheckpointerOptions {
  /** How often to copy new WAL frames into the database file. */
  intervalMs: number;
  /** Start the WAL over once it holds at least this many frames and all of them are copied. */
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
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const { file, intervalMs, restartFrames, walSizeLimitBytes } = workerData;
const db = new Database(file);
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
db.pragma('journal_size_limit = ' + walSizeLimitBytes);
const restart = db.prepare('UPDATE store_state SET wal_restarts = wal_restarts + 1');
// The commit that follows a complete checkpoint starts the WAL over, with its header fsync.
const startOver = db.transaction(() => restart.run());
let stopped = false;
let timer;
const tick = () => {
  try {
    // log and checkpointed count the frames as of the checkpoint's start: if the writer committed
    // since, the WAL cannot start over and the write below merely adds a frame.
    const { busy, log, checkpointed } = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (busy === 0 && log >= restartFrames && checkpointed === log) startOver.immediate();
  } catch {
    // Busy (another checkpoint or a long write in the way): the next tick tries again.
  }
  if (!stopped) timer = setTimeout(tick, intervalMs);
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

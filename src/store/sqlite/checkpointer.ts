import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Copies the WAL back into the database file from a worker thread, with the worker's own
 * connection, so that the writer's commits never do it. An automatic checkpoint runs inside the
 * commit that crosses its threshold: it writes every page in the WAL to the database file and
 * fsyncs both, blocking the event loop for milliseconds (bench/store-append.ts shows it).
 *
 * A PASSIVE checkpoint takes no lock that the writer waits for; it copies what it can, and the
 * writer starts the WAL over once everything is copied (see the store's wal_autocheckpoint for when
 * that does not happen by itself). It is not part of durability: with WAL and synchronous=NORMAL a
 * commit is safe from a process crash once it is in the WAL.
 */
export class Checkpointer {
  readonly #worker: Worker;
  readonly #exited: Promise<void>;
  #alive = true;

  /** Starts checkpointing `file` every `intervalMs`. `onFailure` runs once if the worker dies. */
  constructor(file: string, intervalMs: number, onFailure: (err: unknown) => void) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, intervalMs } });
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
const db = new Database(workerData.file);
db.pragma('synchronous = NORMAL');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy (another checkpoint or a write in the way): the next tick tries again.
  }
}, workerData.intervalMs);
parentPort.on('message', (msg) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * The thread side of WorkerStore: owns the SqliteStore and answers one call at a time, in the order
 * the calls were posted. better-sqlite3 is synchronous, so here its commits (and any stall in them)
 * cost this thread, not the event loop that serves the sockets.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AppendResult, Store } from '../types.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import { ENTRIES, packError, unpackBatch, type StoreCall, type StoreReply, type WorkerStoreData } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('store-worker.js runs only as a worker thread');
const { file, options } = workerData as WorkerStoreData;

/**
 * The appended messages travel back as their ids alone (the caller has the rest); only a duplicate
 * carries its earlier message. Cloning less is the point: this is the per-message hot path.
 */
function packAppended(results: AppendResult[]): Array<number | AppendResult['message']> {
  // A batch of plain messages is never refused.
  return results.map((r) => (r.duplicate ? r.message : r.message!.id));
}

async function answer(store: Store, call: StoreCall): Promise<unknown> {
  if (call.method === 'appendMessages' && call.args[1] !== ENTRIES) return packAppended(await store.appendMessages(unpackBatch(call.args[0])));
  const method = store[call.method] as (...args: unknown[]) => Promise<unknown>;
  return method.apply(store, call.args);
}

async function main(): Promise<void> {
  let store: SqliteStore;
  try {
    store = await SqliteStore.open(file, options as SqliteStoreOptions);
  } catch (err) {
    port!.postMessage({ id: 0, ok: false, error: packError(err) } satisfies StoreReply);
    return;
  }
  port!.postMessage({ id: 0, ok: true, value: undefined } satisfies StoreReply);
  // Calls are answered strictly in order: a read posted after a write sees it.
  let queue = Promise.resolve();
  port!.on('message', (call: StoreCall) => {
    queue = queue.then(async () => {
      let reply: StoreReply;
      try {
        reply = { id: call.id, ok: true, value: await answer(store, call) };
      } catch (err) {
        reply = { id: call.id, ok: false, error: packError(err) };
      }
      port!.postMessage(reply);
      if (call.method === 'close' && reply.ok) port!.close();
    });
  });
}

void main();

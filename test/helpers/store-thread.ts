/**
 * Ends a running server's store thread as a crash would, from outside: through the inspector's
 * NodeWorker domain, which reaches every worker thread of a process. The server has no hook for it.
 */
import { Session } from 'node:inspector';

interface WorkerMessage {
  sessionId: string;
  message: string;
}

/** Runs `expression` in a worker and resolves its value (a promise is awaited). */
function evaluateIn(session: Session, sessionId: string, id: number, expression: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = ({ params }: { params: WorkerMessage }) => {
      if (params.sessionId !== sessionId) return;
      const reply = JSON.parse(params.message) as { id?: number; result?: { result?: { value?: unknown } }; error?: unknown };
      if (reply.id !== id) return;
      session.off('NodeWorker.receivedMessageFromWorker', onMessage);
      if (reply.error) reject(new Error(JSON.stringify(reply.error)));
      else resolve(reply.result?.result?.value);
    };
    session.on('NodeWorker.receivedMessageFromWorker', onMessage);
    const message = JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, awaitPromise: true, returnByValue: true, includeCommandLineAPI: true } });
    session.post('NodeWorker.sendMessageToWorker', { sessionId, message }, (err) => err && reject(err));
  });
}

/**
 * Finds the store thread of a server running in this process (its workerData names the database
 * file and the store's options; the checkpointer's names the driver too) and makes it exit with
 * `code`. Resolves once the exit has been asked for.
 */
export async function exitStoreThread(code: number): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    const workers: string[] = [];
    session.on('NodeWorker.attachedToWorker', ({ params }: { params: { sessionId: string } }) => workers.push(params.sessionId));
    await new Promise<void>((resolve, reject) =>
      session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (err) => (err ? reject(err) : resolve())),
    );
    const describe = `Object.keys(require('node:worker_threads').workerData ?? {}).sort().join(',')`;
    let id = 1;
    for (const sessionId of workers) {
      const keys = await evaluateIn(session, sessionId, id++, describe).catch(() => undefined);
      if (keys !== 'file,options') continue;
      // process.exit in a worker ends that thread only. No reply comes back from a thread that exits.
      void evaluateIn(session, sessionId, id++, `process.exit(${code})`).catch(() => {});
      return;
    }
    throw new Error(`no store thread among ${workers.length} worker threads`);
  } finally {
    // Detaching from the workers is done by disconnecting, after the exit went out.
    setTimeout(() => session.disconnect(), 100).unref();
  }
}

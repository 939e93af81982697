/**
 * A full garbage collection in a server process, through its inspector (the server runs with
 * `--inspect=127.0.0.1:<port>` in the idle scenario, whichever server it is). Resident memory read
 * right after a burst of connections still holds garbage that V8 has not collected yet, by an
 * amount that depends on where its GC cycle happens to be; after a full collection, what is left is
 * what the connections really keep.
 */
import WebSocket from 'ws';
import { getText } from './http.js';

interface InspectorTarget {
  webSocketDebuggerUrl: string;
}

/** Collects garbage in the main thread of the process whose inspector listens on `port`. */
export async function collectGarbage(port: number): Promise<void> {
  const targets = JSON.parse(await getText('127.0.0.1', port, '/json/list')) as InspectorTarget[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    // Twice: the first collection can leave objects whose finalizers free more.
    for (const id of [1, 2]) {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (data: WebSocket.RawData) => {
          const reply = JSON.parse(data.toString()) as { id?: number; error?: { message: string } };
          if (reply.id !== id) return;
          ws.off('message', onMessage);
          if (reply.error) reject(new Error(`HeapProfiler.collectGarbage: ${reply.error.message}`));
          else resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  } finally {
    ws.close();
  }
}

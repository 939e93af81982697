import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';

/** /ws/echo, the seeds' first server: `ECHO: <text>` for text frames, binary frames back as binary. */
export function serveEcho(ws: WebSocket, ip: string, logger: Logger): void {
  logger.info({ ip, endpoint: 'echo' }, 'echo client connected');
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) ws.send(data, { binary: true });
    else ws.send(`ECHO: ${data.toString()}`);
  });
  ws.on('error', () => ws.terminate());
  ws.on('close', (code: number) => logger.info({ ip, endpoint: 'echo', code }, 'echo client disconnected'));
}

/**
 * An HTTP error answered straight on the socket, in the API's JSON error shape, where no HTTP
 * response object exists: a refused upgrade, an Upgrade that is not WebSocket, unparseable HTTP.
 * The connection closes after it.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function endWithError(socket: Duplex, status: number, code: string, message: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  endAndRelease(
    socket,
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}

/**
 * Ends a socket that the HTTP server handed over (an upgrade, a CONNECT) and destroys it once the
 * last bytes are out, as ws's abortHandshake does. Nothing reads such a socket any more, so
 * waiting for the client's end would never see it behind bytes the client sent on (a body, a
 * pipelined request), and the socket would stay open for good, and a graceful stop with it.
 */
export function endAndRelease(socket: Duplex, last?: string): void {
  socket.once('finish', () => socket.destroy());
  socket.end(last);
}

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
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
      body,
  );
}

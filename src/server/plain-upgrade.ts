/**
 * A request that asks to upgrade to something other than WebSocket (curl --http2 sends
 * `Upgrade: h2c` on plain-HTTP URLs) still reaches Node's 'upgrade' event. HTTP lets a server
 * ignore such an Upgrade and answer normally, which is what this does: the request, with its body,
 * goes to the HTTP app and the connection closes after the response.
 */
import { IncomingMessage, ServerResponse, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { endAndRelease, endWithError } from './raw-response.js';

/** Larger bodies are not read here (the API's own limit is 64 KiB). */
const MAX_BODY = 1 << 20;

export function answerAsPlainHttp(req: IncomingMessage, socket: Duplex, head: Buffer, app: RequestListener): void {
  const length = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding'] !== undefined || !Number.isInteger(length) || length < 0) {
    return endWithError(socket, 400, 'bad_request', 'send the request without Upgrade, or with a Content-Length body');
  }
  if (length > MAX_BODY) return endWithError(socket, 413, 'too_large', 'request body too large');
  const chunks: Buffer[] = [];
  let received = 0;
  const take = (chunk: Buffer) => {
    const part = chunk.subarray(0, length - received);
    chunks.push(part);
    received += part.length;
  };
  const respond = () => {
    socket.off('data', onData);
    const request = new IncomingMessage(socket as Socket);
    request.method = req.method;
    request.url = req.url;
    request.headers = req.headers;
    request.rawHeaders = req.rawHeaders;
    request.httpVersion = req.httpVersion;
    request.httpVersionMajor = req.httpVersionMajor;
    request.httpVersionMinor = req.httpVersionMinor;
    request.push(Buffer.concat(chunks));
    request.push(null);
    request.complete = true;
    const res = new ServerResponse(request);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on('finish', () => {
      res.detachSocket(socket as Socket);
      endAndRelease(socket);
    });
    app(request, res);
  };
  const onData = (chunk: Buffer) => {
    take(chunk);
    if (received >= length) respond();
  };
  if (head.length > 0) take(head);
  if (received >= length) respond();
  else socket.on('data', onData);
}

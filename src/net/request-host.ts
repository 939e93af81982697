import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { isTrustedPeer } from './client-ip.js';

/**
 * The host (and port) the client asked for: X-Forwarded-Host when a trusted proxy sets it (nginx
 * passes the client's Host on in it), else the Host header. From anyone else X-Forwarded-Host is
 * ignored: a client could name any host in it.
 */
export function requestHost(req: IncomingMessage, trusted: BlockList): string | undefined {
  const header = req.headers['x-forwarded-host'];
  const forwarded = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  if (forwarded && isTrustedPeer(req.socket.remoteAddress, trusted)) return forwarded;
  return req.headers.host;
}

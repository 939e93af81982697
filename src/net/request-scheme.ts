import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { isTrustedPeer } from './client-ip.js';

/**
 * The scheme the client used: https when this server speaks TLS, or when a trusted proxy says so
 * in X-Forwarded-Proto (behind nginx the node itself speaks plain HTTP).
 */
export function requestScheme(req: IncomingMessage, tls: boolean, trusted: BlockList): 'http' | 'https' {
  if (tls) return 'https';
  const header = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim().toLowerCase();
  return proto === 'https' && isTrustedPeer(req.socket.remoteAddress, trusted) ? 'https' : 'http';
}

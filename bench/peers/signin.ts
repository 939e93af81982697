/**
 * The peers' stand-in for Parley's guest sign-in, so every server does comparable work per
 * connection: `POST /api/guest {name}` returns an HMAC-signed token that the upgrade checks.
 * Also answers `GET /healthz`, which the bench polls to know the peer is up. Nodes of one peer
 * share PEER_SECRET (base64url), so a token from one is good on another, and number their users
 * apart by PEER_NODE (1, 2, …).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'socket.io';

export interface PeerUser {
  id: number;
  name: string;
}

const secret = process.env.PEER_SECRET ? Buffer.from(process.env.PEER_SECRET, 'base64url') : randomBytes(32);
let nextUserId = Number(process.env.PEER_NODE ?? 0) * 1_000_000_000 + 1;

function sign(payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

export function issueToken(user: PeerUser): string {
  const payload = Buffer.from(JSON.stringify(user)).toString('base64url');
  return `${payload}.${sign(payload)}`;
}

/** The user a token was issued to, or undefined when it is missing or forged. */
export function verifyToken(token: unknown): PeerUser | undefined {
  if (typeof token !== 'string') return undefined;
  const dot = token.indexOf('.');
  if (dot < 1) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(sign(payload));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString()) as PeerUser;
  } catch {
    return undefined;
  }
}

/** socket.io's middleware for the peers: the handshake's `auth.token` gives `socket.data.user`, or the connection is refused. */
export function socketIoSignIn(socket: Socket, next: (err?: Error) => void): void {
  const user = verifyToken((socket.handshake.auth as { token?: unknown }).token);
  if (!user) return next(new Error('unauthorized'));
  socket.data.user = user;
  next();
}

/** The token of an upgrade request: `?token=` or `Authorization: Bearer`. */
export function requestToken(req: IncomingMessage): string | undefined {
  const query = new URL(req.url ?? '/', 'http://peer').searchParams.get('token');
  if (query) return query;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The peers' HTTP routes: sign-in and health. */
export function handleHttp(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') return reply(res, 200, { ok: true });
  if (req.method !== 'POST' || path !== '/api/guest') return reply(res, 404, { error: { code: 'not_found' } });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let name: unknown;
    try {
      name = (JSON.parse(Buffer.concat(chunks).toString()) as { name?: unknown }).name;
    } catch {
      name = undefined;
    }
    if (typeof name !== 'string' || name.length === 0 || name.length > 32) {
      return reply(res, 400, { error: { code: 'bad_request' } });
    }
    const user = { id: nextUserId++, name };
    reply(res, 200, { user: { ...user, guest: true }, token: issueToken(user) });
  });
}

/** Where a peer listens: PORT and HOST from the environment, like Parley. */
export function listenAddress(): { port: number; host: string } {
  return { port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' };
}

/**
 * Session tokens: `base64url(JSON payload) + '.' + base64url(HMAC-SHA256(secret, first part))`.
 * Stateless: the server keeps no session table, so any node with the same secret accepts the token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export interface SessionUser {
  id: number;
  name: string;
  guest: boolean;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
}

const payloadSchema = z.object({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  name: z.string().min(1).max(256),
  guest: z.boolean(),
  exp: z.number().int().positive(),
});

const PART = /^[A-Za-z0-9_-]+$/;
// A token is well under this; refusing early keeps a hostile header from costing an HMAC over megabytes.
const MAX_TOKEN_CHARS = 4096;

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

export function signSession(
  secret: string,
  user: { id: number; name: string; guest: boolean },
  ttlMs: number,
  now = Date.now(),
): string {
  const payload: SessionUser = { id: user.id, name: user.name, guest: user.guest, exp: Math.floor(now + ttlMs) };
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/** The token's user when the signature is right and it has not expired; undefined otherwise. */
export function verifySession(secret: string, token: string, now = Date.now()): SessionUser | undefined {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return undefined;
  const parts = token.split('.');
  if (parts.length !== 2) return undefined;
  const [body, signature] = parts as [string, string];
  if (!PART.test(body) || !PART.test(signature)) return undefined;
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(secret, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = payloadSchema.safeParse(json);
  if (!parsed.success || parsed.data.exp <= now) return undefined;
  return parsed.data;
}

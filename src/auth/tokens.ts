/**
 * Session tokens: `base64url(JSON payload) + '.' + base64url(HMAC-SHA256(secret, first part))`.
 * The payload names a session of the Store besides its user: the signature proves that this server
 * made the token, the session (looked up on every request and upgrade) that it has not been ended
 * since, by a logout, a password change or a ban, on any node.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export interface SessionClaims {
  id: number;
  name: string;
  guest: boolean;
  /** The session's id in the Store. */
  sid: string;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
}

const payloadSchema = z.object({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  name: z.string().min(1).max(256),
  guest: z.boolean(),
  sid: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  exp: z.number().int().positive(),
});

const PART = /^[A-Za-z0-9_-]+$/;
// A token is well under this; refusing early keeps a hostile header from costing an HMAC over megabytes.
const MAX_TOKEN_CHARS = 4096;

function signature(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** The token of a session: its user, its id and its expiry, signed. */
export function signSession(secret: string, session: { id: string; user: { id: number; name: string; guest: boolean }; expiresAt: number }): string {
  const { user } = session;
  const payload: SessionClaims = { id: user.id, name: user.name, guest: user.guest, sid: session.id, exp: Math.floor(session.expiresAt) };
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${signature(secret, body)}`;
}

/**
 * What the token claims, when its signature is right and it has not expired; undefined otherwise.
 * Whether its session still exists is the Store's to say (resolveSession).
 */
export function verifySession(secret: string, token: string, now = Date.now()): SessionClaims | undefined {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return undefined;
  const parts = token.split('.');
  if (parts.length !== 2) return undefined;
  const [body, given] = parts as [string, string];
  if (!PART.test(body) || !PART.test(given)) return undefined;
  // The signature as this server writes it, character for character: decoding first would accept
  // other spellings of the last character (base64url leaves its low bits unused).
  const expected = Buffer.from(signature(secret, body));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
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

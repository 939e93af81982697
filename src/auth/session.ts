/**
 * Where a request carries its session token, and the cookie that carries it for browsers.
 * Shared by the HTTP API and the WebSocket upgrade, so both accept the same three forms.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Session, Store } from '../store/types.js';
import { verifySession } from './tokens.js';

export const SESSION_COOKIE = 'parley_session';

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function nonEmpty(s: string | undefined | null): string | undefined {
  return s ? s : undefined;
}

/** The value of one cookie from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      return nonEmpty(decodeURIComponent(value));
    } catch {
      return nonEmpty(value);
    }
  }
  return undefined;
}

/**
 * The session token of a request: `Authorization: Bearer T`, else the `parley_session` cookie,
 * else `?token=T` in the URL (for WebSocket clients that cannot set headers).
 */
export function tokenFromRequest(headers: IncomingHttpHeaders, url: string | undefined): string | undefined {
  const auth = firstHeader(headers.authorization);
  if (auth) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m) return m[1];
  }
  const cookie = cookieValue(firstHeader(headers.cookie), SESSION_COOKIE);
  if (cookie) return cookie;
  if (url && url.includes('token=')) {
    try {
      return nonEmpty(new URL(url, 'http://localhost').searchParams.get('token'));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Set-Cookie value that hands the token to a browser: script cannot read it, cross-site POSTs do not carry it. */
export function sessionCookie(token: string, options: { secure: boolean; maxAgeMs: number }): string {
  const maxAge = Math.max(0, Math.floor(options.maxAgeMs / 1000));
  return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
}

/** Set-Cookie value that makes the browser forget the session. */
export function clearedSessionCookie(options: { secure: boolean }): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
}

/**
 * The session of a request: a token with a valid signature, unexpired, whose session still exists
 * in the store (not logged out, its password not changed, its user not banned) for the same user
 * under the same name (a wiped database must not hand an old token to whoever got the id next).
 * One store read.
 */
export async function resolveSession(
  store: Pick<Store, 'getSession'>,
  secret: string,
  headers: IncomingHttpHeaders,
  url: string | undefined,
  now = Date.now(),
): Promise<Session | undefined> {
  const token = tokenFromRequest(headers, url);
  if (!token) return undefined;
  const claimed = verifySession(secret, token, now);
  if (!claimed) return undefined;
  const session = await store.getSession(claimed.sid, now);
  if (!session) return undefined;
  const { user } = session;
  if (user.id !== claimed.id || user.name !== claimed.name || user.guest !== claimed.guest) return undefined;
  return session;
}

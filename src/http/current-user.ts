/** Who is asking: the session of the request, or a 401. */
import type { Context } from 'koa';
import { resolveSession } from '../auth/session.js';
import type { Session, Store, User } from '../store/types.js';
import { HttpError } from './errors.js';

/** The request's session; undefined without a valid one (ended, expired, forged, or none). */
export function currentSession(ctx: Context, store: Store, secret: string): Promise<Session | undefined> {
  return resolveSession(store, secret, ctx.headers, ctx.url);
}

/** The user of the request's session; undefined without a valid one. */
export async function currentUser(ctx: Context, store: Store, secret: string): Promise<User | undefined> {
  return (await currentSession(ctx, store, secret))?.user;
}

export async function requireSession(ctx: Context, store: Store, secret: string): Promise<Session> {
  const session = await currentSession(ctx, store, secret);
  if (!session) {
    throw new HttpError(401, 'unauthorized', 'sign in first: no valid session', { 'WWW-Authenticate': 'Bearer' });
  }
  return session;
}

export async function requireUser(ctx: Context, store: Store, secret: string): Promise<User> {
  return (await requireSession(ctx, store, secret)).user;
}

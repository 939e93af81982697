/** Who is asking: the session of the request, or a 401. */
import type { Context } from 'koa';
import { resolveSession } from '../auth/session.js';
import type { Store, User } from '../store/types.js';
import { HttpError } from './errors.js';

/** The user of the request's session; undefined without a valid one. */
export function currentUser(ctx: Context, store: Store, secret: string): Promise<User | undefined> {
  return resolveSession(store, secret, ctx.headers, ctx.url);
}

export async function requireUser(ctx: Context, store: Store, secret: string): Promise<User> {
  const user = await currentUser(ctx, store, secret);
  if (!user) {
    throw new HttpError(401, 'unauthorized', 'sign in first: no valid session', { 'WWW-Authenticate': 'Bearer' });
  }
  return user;
}

/** Who is asking: the session of the request, or a 401. */
import type { Context } from 'koa';
import { resolveSession } from '../auth/session.js';
import type { Store, User } from '../store/types.js';
import { HttpError } from './errors.js';

export async function requireUser(ctx: Context, store: Store, secret: string): Promise<User> {
  const user = await resolveSession(store, secret, ctx.headers, ctx.url);
  if (!user) {
    throw new HttpError(401, 'unauthorized', 'sign in first: no valid session', { 'WWW-Authenticate': 'Bearer' });
  }
  return user;
}

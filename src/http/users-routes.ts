/** Users: find someone by the start of their name, to invite them to a room or write to them. */
import Router from '@koa/router';
import { z } from 'zod';
import { MAX_NAME_CHARS } from '../protocol/names.js';
import { requireUser } from './current-user.js';
import type { HttpDeps } from './deps.js';
import { parse } from './validate.js';
import { userView } from './views.js';

/** The most users one search answers. */
const MAX_FOUND = 50;

const searchQuery = z.object({
  q: z
    .string()
    .transform((s) => s.normalize('NFC').trim())
    .refine((s) => s.length > 0, 'q must not be empty')
    .refine((s) => [...s].length <= MAX_NAME_CHARS, `q must be at most ${MAX_NAME_CHARS} characters`),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, `limit must be a whole number from 1 to ${MAX_FOUND}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `limit must be from 1 to ${MAX_FOUND}`).max(MAX_FOUND, `limit must be from 1 to ${MAX_FOUND}`))
    .optional(),
});

export function usersRoutes(deps: HttpDeps): Router {
  const { store, secret } = deps;
  const router = new Router({ prefix: '/api/users' });

  router.get('/', async (ctx) => {
    await requireUser(ctx, store, secret);
    const query = parse(searchQuery, { q: ctx.query.q, limit: ctx.query.limit });
    const users = await store.findUsers(query.q, query.limit ?? 20);
    ctx.body = { users: users.map(userView) };
  });

  return router;
}

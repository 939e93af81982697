/**
 * Search over HTTP: GET /api/search finds messages of the rooms the user may read, through the
 * realtime core, as the WebSocket `search` does.
 */
import Router from '@koa/router';
import { z } from 'zod';
import { SEARCH_PAGE_DEFAULT, SEARCH_PAGE_MAX, SEARCH_QUERY_MAX } from '../protocol/limits.js';
import { roomNameSchema } from '../protocol/names.js';
import { chatFrame } from '../realtime/history.js';
import { requireUser } from './current-user.js';
import type { HttpDeps } from './deps.js';
import { parse } from './validate.js';
import { wireUser } from '../protocol/frames.js';

const searchQuery = z.object({
  q: z
    .string({ error: 'is required' })
    .min(1, 'must not be empty')
    .max(SEARCH_QUERY_MAX, `must be at most ${SEARCH_QUERY_MAX} characters`)
    .refine((s) => s.isWellFormed(), 'must be valid Unicode text'),
  room: roomNameSchema.optional(),
  before: z
    .string()
    .regex(/^\d{1,16}$/, 'must be a time in milliseconds since the epoch (a whole number)')
    .transform(Number)
    .pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER))
    .optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, `must be a whole number from 1 to ${SEARCH_PAGE_MAX}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be from 1 to ${SEARCH_PAGE_MAX}`).max(SEARCH_PAGE_MAX, `must be from 1 to ${SEARCH_PAGE_MAX}`))
    .optional(),
});

export function searchRoutes(deps: HttpDeps): Router {
  const { store, secret, chat } = deps;
  const router = new Router();

  router.get('/api/search', async (ctx) => {
    const user = await requireUser(ctx, store, secret);
    const query = parse(searchQuery, ctx.query);
    const page = await chat.search(wireUser(user), { ...query, limit: query.limit ?? SEARCH_PAGE_DEFAULT });
    ctx.body = { q: query.q, data: page.data.map(chatFrame), more: page.more };
  });

  return router;
}

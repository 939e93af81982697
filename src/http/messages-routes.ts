/**
 * A room's messages over HTTP: read history, and publish from a backend or a bot. Both go through
 * the realtime core, so a message published here is stored and fanned out like one sent on a socket.
 */
import Router from '@koa/router';
import { z } from 'zod';
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '../protocol/limits.js';
import { roomNameSchema } from '../protocol/names.js';
import { requireUser } from './current-user.js';
import type { HttpDeps } from './deps.js';
import { parse, parseBody } from './validate.js';
import { entryView } from './views.js';
import { wireUser } from '../protocol/frames.js';

const messageId = z
  .string()
  .regex(/^\d{1,16}$/, 'must be a message id (a whole number)')
  .transform(Number)
  .pipe(z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER));

const historyQuery = z.object({
  before: messageId.optional(),
  after: messageId.optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, `must be a whole number from 1 to ${HISTORY_PAGE_MAX}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be from 1 to ${HISTORY_PAGE_MAX}`).max(HISTORY_PAGE_MAX, `must be from 1 to ${HISTORY_PAGE_MAX}`))
    .optional(),
});

const publishBody = z.object({
  data: z.string().min(1, 'must not be empty'),
  cid: z.string().min(1).max(64).optional(),
});

export function messagesRoutes(deps: HttpDeps): Router {
  const { store, secret, chat } = deps;
  const router = new Router({ prefix: '/api/rooms/:room/messages' });

  router.get('/', async (ctx) => {
    const user = await requireUser(ctx, store, secret);
    const room = parse(roomNameSchema, ctx.params.room);
    const query = parse(historyQuery, ctx.query);
    const { data, more, gap, lastId } = await chat.history(wireUser(user), room, {
      before: query.before,
      after: query.after,
      limit: query.limit ?? HISTORY_PAGE_DEFAULT,
    });
    const body: Record<string, unknown> = { room, data: data.map(entryView), more };
    // A page of messages says where the room was when it was read (events up to it are folded in).
    if (lastId !== undefined) body.lastId = lastId;
    // A catch-up (`after`) over messages no longer kept says so, rather than leave a silent hole.
    if (gap) body.gap = gap;
    ctx.body = body;
  });

  router.post('/', async (ctx) => {
    const user = await requireUser(ctx, store, secret);
    const room = parse(roomNameSchema, ctx.params.room);
    const body = parseBody(ctx, publishBody);
    const { message, duplicate } = await chat.publish(wireUser(user), room, body.data, body.cid);
    ctx.status = duplicate ? 200 : 201;
    ctx.body = {
      room: message.room,
      id: message.id,
      ts: message.ts,
      ...(message.cid !== undefined ? { cid: message.cid } : {}),
    };
  });

  return router;
}

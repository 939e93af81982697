/**
 * Moderation over HTTP, the same actions as the WebSocket frames (DESIGN.md, "Moderation"): roles,
 * bans, mutes and kicks in a room, its audit log, and an admin's ban of a user everywhere.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { givenRoleSchema, moderationMinutesSchema, wireUser } from '../protocol/frames.js';
import { roomNameSchema } from '../protocol/names.js';
import type { ModerationEvent } from '../broker/types.js';
import type { Actor } from '../realtime/access.js';
import { AUDIT_PAGE_MAX, type ModerationRequest } from '../realtime/moderation.js';
import { requireUser } from './current-user.js';
import type { HttpDeps } from './deps.js';
import { parse, parseBody } from './validate.js';
import { isJsonRequest } from './json-body.js';

const userIdParam = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'the user must be a user id (a positive whole number)')
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER, 'the user must be a user id'));
const timedBody = z.object({
  minutes: moderationMinutesSchema.optional(),
});
const roleBody = z.object({ role: givenRoleSchema });
const auditQuery = z.object({
  limit: z
    .string()
    .regex(/^\d{1,4}$/, `limit must be a whole number from 1 to ${AUDIT_PAGE_MAX}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `limit must be from 1 to ${AUDIT_PAGE_MAX}`).max(AUDIT_PAGE_MAX, `limit must be from 1 to ${AUDIT_PAGE_MAX}`))
    .optional(),
});

/** What an action answers: the audit entry it made. */
function actionView(event: ModerationEvent) {
  const view: Record<string, unknown> = { room: event.room, action: event.action, user: event.user, by: event.by, ts: event.ts };
  if (event.until !== undefined) view.until = event.until;
  if (event.role !== undefined) view.role = event.role;
  return view;
}

export function moderationRoutes(deps: HttpDeps): Router {
  const { store, secret, chat } = deps;
  const router = new Router({ prefix: '/api' });

  async function actor(ctx: Context): Promise<Actor> {
    const user = await requireUser(ctx, store, secret);
    return { id: user.id, name: user.name, guest: user.guest };
  }

  /** A body is optional (no minutes: until lifted); when there is one it must be JSON. */
  const minutesOf = (ctx: Context): number | undefined =>
    ctx.request.length || isJsonRequest(ctx) ? parseBody(ctx, timedBody).minutes : undefined;

  async function act(ctx: Context, action: ModerationRequest['action'], extra: Partial<ModerationRequest> = {}): Promise<void> {
    const who = await actor(ctx);
    const room = parse(roomNameSchema, ctx.params.room);
    const user = parse(userIdParam, ctx.params.user);
    ctx.body = actionView(await chat.moderate(who, { action, room, user, ...extra }));
  }

  router.put('/rooms/:room/roles/:user', async (ctx) => act(ctx, 'role', { role: parseBody(ctx, roleBody).role }));
  router.post('/rooms/:room/bans/:user', async (ctx) => {
    const minutes = minutesOf(ctx);
    await act(ctx, 'ban', minutes === undefined ? {} : { minutes });
  });
  router.delete('/rooms/:room/bans/:user', async (ctx) => act(ctx, 'unban'));
  router.post('/rooms/:room/mutes/:user', async (ctx) => {
    const minutes = minutesOf(ctx);
    await act(ctx, 'mute', minutes === undefined ? {} : { minutes });
  });
  router.delete('/rooms/:room/mutes/:user', async (ctx) => act(ctx, 'unmute'));
  router.delete('/rooms/:room/members/:user', async (ctx) => act(ctx, 'kick'));

  router.get('/rooms/:room/audit', async (ctx) => {
    const who = await actor(ctx);
    const room = parse(roomNameSchema, ctx.params.room);
    const query = parse(auditQuery, { limit: ctx.query.limit });
    ctx.body = { data: (await chat.audit(who, room, query.limit ?? 100)).map(auditView) };
  });

  router.get('/rooms/:room/bans', async (ctx) => {
    const who = await actor(ctx);
    const room = parse(roomNameSchema, ctx.params.room);
    ctx.body = { data: await chat.bans(who, room) };
  });

  // An admin bans a user everywhere: every session ends, every connection closes with 4003.
  router.post('/users/:user/ban', async (ctx) => {
    const user = await chat.banEverywhere(await actor(ctx), parse(userIdParam, ctx.params.user), true);
    ctx.body = { user: wireUser(user), banned: true };
  });
  router.delete('/users/:user/ban', async (ctx) => {
    const user = await chat.banEverywhere(await actor(ctx), parse(userIdParam, ctx.params.user), false);
    ctx.body = { user: wireUser(user), banned: false };
  });

  return router;
}

function auditView(r: { action: string; user: { id: number; name: string }; by: { id: number; name: string }; ts: number; until?: number; role?: string }) {
  const view: Record<string, unknown> = { action: r.action, user: r.user, by: r.by, ts: r.ts };
  if (r.until !== undefined) view.until = r.until;
  if (r.role !== undefined) view.role = r.role;
  return view;
}

/** Rooms: list the ones you can see, create one, add a member to a private one. */
import Router from '@koa/router';
import { z } from 'zod';
import { newRoomNameSchema, roomNameSchema } from '../protocol/names.js';
import { noSuchRoom } from '../realtime/access.js';
import { requireUser } from './current-user.js';
import type { HttpDeps } from './deps.js';
import { HttpError } from './errors.js';
import { parse, parseBody } from './validate.js';
import { roomView } from './views.js';
import { wireUser } from '../protocol/frames.js';

const createBody = z.object({ name: newRoomNameSchema, private: z.boolean().optional() });
/** A user id, or the name of a registered account (guests may share names, so they go by id). */
const addMemberBody = z.object({
  user: z.union([z.number().int().positive().max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(200)]),
});

export function roomsRoutes(deps: HttpDeps): Router {
  const { store, secret } = deps;
  const router = new Router({ prefix: '/api/rooms' });

  router.get('/', async (ctx) => {
    const user = await requireUser(ctx, store, secret);
    const rooms = await store.listRooms(user.id);
    ctx.body = { rooms: rooms.map(roomView) };
  });

  router.post('/', async (ctx) => {
    const user = await requireUser(ctx, store, secret);
    const body = parseBody(ctx, createBody);
    const room = await store.createRoom({ name: body.name, private: body.private ?? false, createdBy: user.id });
    deps.logger.info({ room: room.name, private: room.private, user: user.id }, 'room created');
    await deps.chat.roomCreated(room);
    ctx.status = 201;
    ctx.body = { room: roomView(room) };
  });

  router.post('/:room/members', async (ctx) => {
    const me = await requireUser(ctx, store, secret);
    const name = parse(roomNameSchema, ctx.params.room);
    const body = parseBody(ctx, addMemberBody);
    // A private room (or DM) is answered to a non-member as a missing one; its members learn more.
    const room = await store.getRoom(name);
    if (!room || (room.private && !(await store.isMember(room.name, me.id)))) throw noSuchRoom(name);
    if (room.direct) throw new HttpError(403, 'forbidden', 'a direct-message room has exactly its two members');
    const user = typeof body.user === 'number' ? await store.getUser(body.user) : await store.findRegisteredUser(body.user.normalize('NFC').trim());
    if (!user) throw new HttpError(404, 'not_found', `no user ${body.user}`);
    await store.addMember(room.name, user.id);
    await deps.chat.memberAdded(room, user.id);
    ctx.body = { room: roomView(room), user: wireUser(user) };
  });

  return router;
}

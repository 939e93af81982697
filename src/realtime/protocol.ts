/**
 * The chat protocol on /ws/chat: the schemas of client frames (validated at the edge) and the types
 * of server frames. docs/protocol.md is the user-facing version of this file.
 */
import { z } from 'zod';
import type { PresenceUser } from '../broker/types.js';
import type { StoredMessage, User } from '../store/types.js';
import type { ErrorCode } from '../protocol/error-codes.js';
import { HISTORY_PAGE_MAX } from '../protocol/limits.js';
import { roomNameSchema } from '../protocol/names.js';

/**
 * A lone half of a UTF-16 surrogate pair, which JSON can carry as a \u escape inside a valid UTF-8
 * frame, is not text: stored as UTF-8 it would come back as U+FFFD, different from what was
 * broadcast, so a string with one is refused.
 */
const wellFormed = (s: string) => s.isWellFormed();
const NOT_TEXT = 'must be valid Unicode text (it has a \\u escape of a lone UTF-16 surrogate)';

const cid = z.string().min(1).max(64).refine(wellFormed, `cid ${NOT_TEXT}`);
const messageId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** The text of a message; its length limit (MAX_TEXT) is checked by the hub, to answer too_large. */
const text = z.string().min(1, 'data must not be empty').refine(wellFormed, `data ${NOT_TEXT}`);

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('join'), room: roomNameSchema, after: messageId.optional() }),
  z.object({ type: z.literal('leave'), room: roomNameSchema }),
  z.object({ type: z.literal('chat'), room: roomNameSchema, data: text, cid: cid.optional() }),
  z.object({ type: z.literal('dm'), to: z.number().int().positive(), data: text, cid: cid.optional() }),
  z.object({
    type: z.literal('history'),
    room: roomNameSchema,
    before: messageId.optional(),
    limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).optional(),
  }),
  z.object({ type: z.literal('typing'), room: roomNameSchema }),
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;

export type ChatFrame = { type: 'chat' } & StoredMessage;

export type ServerMessage =
  | { type: 'welcome'; user: Pick<User, 'id' | 'name' | 'guest'>; conn: { id: string; ip: string }; rooms: string[] }
  | ChatFrame
  | { type: 'join'; room: string; user: PresenceUser }
  | { type: 'left'; room: string; user: PresenceUser }
  | { type: 'list'; room: string; data: PresenceUser[]; lastId: number }
  | { type: 'history'; room: string; data: ChatFrame[]; more: boolean }
  | { type: 'ack'; cid: string; room: string; id: number; ts: number }
  | { type: 'typing'; room: string; user: PresenceUser }
  | { type: 'error'; code: ErrorCode; message: string; cid?: string; room?: string };

/**
 * The cid and room a refused frame carried (bounded, and only when they are strings), for its error
 * frame: the client can then tell which message was refused.
 */
export function refusalIds(json: unknown): { cid?: string; room?: string } {
  const ids: { cid?: string; room?: string } = {};
  if (typeof json !== 'object' || json === null) return ids;
  const { cid, room } = json as { cid?: unknown; room?: unknown };
  if (typeof cid === 'string' && cid.length > 0) ids.cid = cid.slice(0, 64);
  if (typeof room === 'string' && room.length > 0) ids.room = room.slice(0, 200);
  return ids;
}

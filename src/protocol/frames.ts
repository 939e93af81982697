/**
 * The chat protocol on /ws/chat, written once: the schemas of the frames a client sends (the server
 * validates every one at the edge with them) and of the frames the server sends (the SDK validates
 * every one before it trusts it), and the types of both, derived from the schemas. The server and
 * the clients (SDK, CLI, web) import this module; it imports nothing of either.
 * docs/protocol.md is the user-facing version of this file.
 */
import { z } from 'zod';
import { HISTORY_PAGE_MAX } from './limits.js';
import { roomNameSchema } from './names.js';

/**
 * A lone half of a UTF-16 surrogate pair, which JSON can carry as a \u escape inside a valid UTF-8
 * frame, is not text: stored as UTF-8 it would come back as U+FFFD, different from what was
 * broadcast, so a string with one is refused.
 */
const wellFormed = (s: string) => s.isWellFormed();
const NOT_TEXT = 'must be valid Unicode text (it has a \\u escape of a lone UTF-16 surrogate)';

const cid = z.string().min(1).max(64).refine(wellFormed, `cid ${NOT_TEXT}`);
const messageId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const timestamp = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** The text of a message; its length limit (MAX_TEXT) is checked by the server, to answer too_large. */
const text = z.string().min(1, 'data must not be empty').refine(wellFormed, `data ${NOT_TEXT}`);

// ---------------------------------------------------------------- client to server

export const clientFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('join'),
    room: roomNameSchema,
    after: messageId.optional(),
    // The ts of the client's message `after`: if the store's differs, its history went back in time.
    at: timestamp.optional(),
  }),
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

/** Every frame a client sends on /ws/chat. */
export type ClientFrame = z.infer<typeof clientFrameSchema>;

// ---------------------------------------------------------------- server to client

export const wireUserSchema = z.object({ id: z.number().int(), name: z.string() });
/** A user on the wire: in messages, presence and typing. */
export type WireUser = z.infer<typeof wireUserSchema>;

export const selfUserSchema = wireUserSchema.extend({ guest: z.boolean() });
/** The signed-in user, as `welcome` and the HTTP API describe it. */
export type SelfUser = z.infer<typeof selfUserSchema>;

export const chatMessageSchema = z.object({
  room: z.string(),
  id: z.number().int().nonnegative(),
  user: wireUserSchema,
  data: z.string(),
  ts: z.number(),
  cid: z.string().optional(),
});
/** A stored room message: `id` is the room's sequence number 1, 2, 3… */
export type ChatMessage = z.infer<typeof chatMessageSchema>;

const chatFrameSchema = chatMessageSchema.extend({ type: z.literal('chat') });
export type ChatFrame = z.infer<typeof chatFrameSchema>;

export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    user: selfUserSchema,
    conn: z.object({ id: z.string(), ip: z.string() }),
    rooms: z.array(z.string()),
  }),
  chatFrameSchema,
  z.object({ type: z.literal('join'), room: z.string(), user: wireUserSchema }),
  z.object({ type: z.literal('left'), room: z.string(), user: wireUserSchema }),
  z.object({
    type: z.literal('list'),
    room: z.string(),
    data: z.array(wireUserSchema),
    lastId: z.number().int().nonnegative(),
    lastTs: z.number().optional(),
  }),
  z.object({ type: z.literal('history'), room: z.string(), data: z.array(chatFrameSchema), more: z.boolean() }),
  z.object({ type: z.literal('ack'), cid: z.string(), room: z.string(), id: z.number().int(), ts: z.number() }),
  z.object({ type: z.literal('typing'), room: z.string(), user: wireUserSchema }),
  // A room you can see now appeared: a new public room, or a private room you were added to.
  z.object({ type: z.literal('room'), room: z.string(), private: z.boolean() }),
  z.object({
    type: z.literal('error'),
    // One of errorCodes; a client takes an unknown code from a newer server as an error all the same.
    code: z.string(),
    message: z.string(),
    cid: z.string().optional(),
    room: z.string().optional(),
    // For history_gap: the id the room's history now goes on after.
    lastId: z.number().int().nonnegative().optional(),
  }),
]);

/** Every frame the server sends on /ws/chat. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;
export type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>;

/**
 * The wire types of the chat protocol as the client sees them (docs/protocol.md). Copied, not
 * imported, from the server so that the SDK stays isomorphic and imports nothing of the server;
 * the schemas validate every frame the server sends before the SDK trusts it.
 */
import { z } from 'zod';

export const userSchema = z.object({ id: z.number().int(), name: z.string() });
/** A user on the wire. */
export type WireUser = z.infer<typeof userSchema>;

export const selfSchema = userSchema.extend({ guest: z.boolean() });
/** The signed-in user, as `welcome` and the HTTP API describe it. */
export type SelfUser = z.infer<typeof selfSchema>;

export const chatMessageSchema = z.object({
  room: z.string(),
  id: z.number().int().nonnegative(),
  user: userSchema,
  data: z.string(),
  ts: z.number(),
  cid: z.string().optional(),
});
/** A stored room message: `id` is the room's sequence number 1, 2, 3… */
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export { errorCodes, type ErrorCode } from '../protocol/error-codes.js';

const chatFrame = chatMessageSchema.extend({ type: z.literal('chat') });

export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    user: selfSchema,
    conn: z.object({ id: z.string(), ip: z.string() }),
    rooms: z.array(z.string()),
  }),
  chatFrame,
  z.object({ type: z.literal('join'), room: z.string(), user: userSchema }),
  z.object({ type: z.literal('left'), room: z.string(), user: userSchema }),
  z.object({ type: z.literal('list'), room: z.string(), data: z.array(userSchema), lastId: z.number().int().nonnegative().optional() }),
  z.object({ type: z.literal('history'), room: z.string(), data: z.array(chatFrame), more: z.boolean() }),
  z.object({ type: z.literal('ack'), cid: z.string(), room: z.string(), id: z.number().int(), ts: z.number() }),
  z.object({ type: z.literal('typing'), room: z.string(), user: userSchema }),
  z.object({
    type: z.literal('error'),
    // An unknown code from a newer server is still an error the application should see.
    code: z.string(),
    message: z.string(),
    cid: z.string().optional(),
    room: z.string().optional(),
  }),
]);
/** Every frame the server sends on /ws/chat. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;
export type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>;

/** Every frame the client sends on /ws/chat. */
export type ClientFrame =
  | { type: 'join'; room: string; after?: number }
  | { type: 'leave'; room: string }
  | { type: 'chat'; room: string; data: string; cid?: string }
  | { type: 'dm'; to: number; data: string; cid?: string }
  | { type: 'history'; room: string; before?: number; limit?: number }
  | { type: 'typing'; room: string };

/** The server's answer to a send: the message was stored as `id` in `room`. */
export interface Ack {
  room: string;
  id: number;
  ts: number;
}

/** Parses one text frame; undefined when it is not a frame of the protocol. */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = serverFrameSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

/** The chat message of a chat frame, without the frame's `type`. */
export function toChatMessage(frame: ChatMessage & { type?: string }): ChatMessage {
  const { room, id, user, data, ts, cid } = frame;
  return cid === undefined ? { room, id, user, data, ts } : { room, id, user, data, ts, cid };
}

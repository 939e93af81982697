/**
 * The wire types of the chat protocol as the SDK uses them. They are defined once, in
 * src/protocol/frames.ts, which the server validates with too; the SDK validates every frame the
 * server sends with the same schemas before it trusts it.
 */
import { serverFrameSchema, type ChatMessage, type ServerFrame } from '../protocol/frames.js';

export {
  type ChatMessage,
  type ClientFrame,
  type DeleteFrame,
  type EditFrame,
  type ReactFrame,
  type SelfUser,
  type ServerFrame,
  type TimelineEventFrame,
  type WelcomeFrame,
  type WireUser,
} from '../protocol/frames.js';
export { isEmoji, MAX_EMOJI_LENGTH } from '../protocol/emoji.js';
export { errorCodes, type ErrorCode } from '../protocol/error-codes.js';

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
  const { type: _type, ...message } = frame;
  return message;
}

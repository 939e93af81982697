/**
 * The chat protocol on /ws/chat, written once: the schemas of the frames a client sends (the server
 * validates every one at the edge with them) and of the frames the server sends (the SDK validates
 * every one before it trusts it), and the types of both, derived from the schemas. The server and
 * the clients (SDK, CLI, web) import this module; it imports nothing of either.
 * docs/protocol.md is the user-facing version of this file.
 */
import { z } from 'zod';
import { isEmoji, MAX_EMOJI_LENGTH } from './emoji.js';
import { HISTORY_PAGE_MAX, SEARCH_PAGE_MAX, SEARCH_QUERY_MAX } from './limits.js';
import { roomNameSchema } from './names.js';

/**
 * A lone half of a UTF-16 surrogate pair, which JSON can carry as a \u escape inside a valid UTF-8
 * frame, is not text: stored as UTF-8 it would come back as U+FFFD, different from what was
 * broadcast, so a string with one is refused.
 */
const wellFormed = (s: string) => s.isWellFormed();
const NOT_TEXT = 'must be valid Unicode text (it has a \\u escape of a lone UTF-16 surrogate)';

const cid = z.string().min(1).max(64).refine(wellFormed, `cid ${NOT_TEXT}`);
/** The client's id for a request that is answered (history, search): echoed in the answer, and in an error about it. */
const rid = z.string().min(1).max(64).refine(wellFormed, `rid ${NOT_TEXT}`);
const messageId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const timestamp = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** The text of a message; its length limit (MAX_TEXT) is checked by the server, to answer too_large. */
const text = z.string().min(1, 'data must not be empty').refine(wellFormed, `data ${NOT_TEXT}`);
/** The id of a message a frame names (a reply's, an event's target): ids start at 1. */
const target = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const emoji = z
  .string()
  .max(MAX_EMOJI_LENGTH, `emoji must be one emoji (at most ${MAX_EMOJI_LENGTH} UTF-16 code units)`)
  .refine(isEmoji, 'emoji must be one emoji');

/** A user a frame names by id (a moderation action's target). */
const userId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
/** How long a ban or mute lasts: whole minutes, at most a year; absent: until lifted. */
export const MAX_MODERATION_MINUTES = 525_600;
// The year's bound comes before int(), whose own bound (the safe integers) would be named first otherwise.
export const moderationMinutesSchema = z
  .number()
  .min(1)
  .max(MAX_MODERATION_MINUTES, `minutes must be at most ${MAX_MODERATION_MINUTES} (a year)`)
  .int();
/** The roles the owner (or an admin) gives: a room's owner is its creator, and stays so. */
export const givenRoleSchema = z.enum(['moderator', 'member']);
export type GivenRole = z.infer<typeof givenRoleSchema>;
/** A room role as clients see it: an admin is one in every room (ADMINS). */
export type RoomRole = 'admin' | 'owner' | 'moderator' | 'member';

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
  z.object({ type: z.literal('chat'), room: roomNameSchema, data: text, cid: cid.optional(), reply: target.optional() }),
  z.object({ type: z.literal('dm'), to: z.number().int().positive(), data: text, cid: cid.optional() }),
  z.object({
    type: z.literal('history'),
    room: roomNameSchema,
    before: messageId.optional(),
    limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).optional(),
    rid: rid.optional(),
  }),
  z.object({ type: z.literal('typing'), room: roomNameSchema }),
  z.object({ type: z.literal('edit'), room: roomNameSchema, target, data: text, cid: cid.optional() }),
  z.object({ type: z.literal('delete'), room: roomNameSchema, target, cid: cid.optional() }),
  z.object({ type: z.literal('react'), room: roomNameSchema, target, emoji, on: z.boolean().optional(), cid: cid.optional() }),
  z.object({ type: z.literal('read'), room: roomNameSchema, id: messageId }),
  z.object({
    type: z.literal('search'),
    q: z.string().min(1, 'q must not be empty').max(SEARCH_QUERY_MAX, `q must be at most ${SEARCH_QUERY_MAX} characters`).refine(wellFormed, `q ${NOT_TEXT}`),
    room: roomNameSchema.optional(),
    // A ts: only messages older than it (the ts of the oldest message of the page before).
    before: timestamp.optional(),
    limit: z.number().int().min(1).max(SEARCH_PAGE_MAX).optional(),
    rid: rid.optional(),
  }),
  // Moderation (the room's moderators, owner, admins): acked like a chat when they have a cid.
  z.object({ type: z.literal('kick'), room: roomNameSchema, user: userId, cid: cid.optional() }),
  z.object({ type: z.literal('ban'), room: roomNameSchema, user: userId, minutes: moderationMinutesSchema.optional(), cid: cid.optional() }),
  z.object({ type: z.literal('unban'), room: roomNameSchema, user: userId, cid: cid.optional() }),
  z.object({ type: z.literal('mute'), room: roomNameSchema, user: userId, minutes: moderationMinutesSchema.optional(), cid: cid.optional() }),
  z.object({ type: z.literal('unmute'), room: roomNameSchema, user: userId, cid: cid.optional() }),
  z.object({ type: z.literal('role'), room: roomNameSchema, user: userId, role: givenRoleSchema, cid: cid.optional() }),
]);

/** Every frame a client sends on /ws/chat. */
export type ClientFrame = z.infer<typeof clientFrameSchema>;
/** The frames of moderation actions. */
export type ModerationFrame = Extract<ClientFrame, { type: 'kick' | 'ban' | 'unban' | 'mute' | 'unmute' | 'role' }>;
export const MODERATION_FRAMES: ReadonlySet<string> = new Set(['kick', 'ban', 'unban', 'mute', 'unmute', 'role']);

// ---------------------------------------------------------------- server to client

export const wireUserSchema = z.object({ id: z.number().int(), name: z.string(), guest: z.literal(true).optional() });
/**
 * A user on the wire: in messages, presence and typing. `guest: true` marks a guest (a registered
 * account has no `guest` key), so that a guest and an account of the same name are told apart.
 */
export type WireUser = z.infer<typeof wireUserSchema>;

/** The wire form of a user: `guest` only when true. */
export function wireUser(user: { id: number; name: string; guest?: boolean }): WireUser {
  return user.guest === true ? { id: user.id, name: user.name, guest: true } : { id: user.id, name: user.name };
}

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
  /** The id of the message this one answers. */
  reply: z.number().int().optional(),
  /** The users its @names named. */
  mentions: z.array(z.number().int()).optional(),
  /** In history and replays: the ts of its last edit. */
  edited: z.number().optional(),
  /** In history and replays: it was deleted (`data` is ""). */
  deleted: z.literal(true).optional(),
  /** In history pages: who reacted with what, user ids in the order they reacted. */
  reactions: z.record(z.string(), z.array(z.number().int())).optional(),
});
/**
 * A room message: `id` is the room's sequence number 1, 2, 3… (shared with the room's edit, delete
 * and react events). History pages give it in its current state (edits, deletion and reactions
 * folded in); a live chat frame as it was sent.
 */
export type ChatMessage = z.infer<typeof chatMessageSchema>;

const chatFrameSchema = chatMessageSchema.extend({ type: z.literal('chat') });
export type ChatFrame = z.infer<typeof chatFrameSchema>;

const eventBase = {
  room: z.string(),
  id: z.number().int().nonnegative(),
  user: wireUserSchema,
  target: z.number().int(),
  ts: z.number(),
  cid: z.string().optional(),
};
/** Message `target` now reads `data` (its author changed it). */
export const editFrameSchema = z.object({ type: z.literal('edit'), ...eventBase, data: z.string() });
/** Message `target` was deleted: its text is erased. */
export const deleteFrameSchema = z.object({ type: z.literal('delete'), ...eventBase });
/** `user` added (`on`) or took back `emoji` on message `target`. */
export const reactFrameSchema = z.object({ type: z.literal('react'), ...eventBase, emoji: z.string(), on: z.boolean() });
export type EditFrame = z.infer<typeof editFrameSchema>;
export type DeleteFrame = z.infer<typeof deleteFrameSchema>;
export type ReactFrame = z.infer<typeof reactFrameSchema>;
/** A change of a room's timeline other than a new message: it has the room's next id, like a message. */
export type TimelineEventFrame = EditFrame | DeleteFrame | ReactFrame;
/** What takes an id of a room's sequence, as frames: a message or an event. */
export type TimelineFrame = ChatFrame | TimelineEventFrame;

/** Until when a ban or mute lasts (ms since the epoch), or null: until lifted. */
const until = z.number().int().nullable();
export const moderationActionSchema = z.enum(['kick', 'ban', 'unban', 'mute', 'unmute', 'role', 'delete']);

export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('welcome'),
    user: selfUserSchema,
    conn: z.object({ id: z.string(), ip: z.string() }),
    rooms: z.array(z.string()),
    // How far this user has read each of those rooms (read frames, from any of their connections).
    read: z.record(z.string(), z.number().int().nonnegative()).optional(),
    // An admin (ADMINS): moderates every room but DMs, and may ban users everywhere.
    admin: z.literal(true).optional(),
    // The names of ADMINS (registered accounts; a guest of such a name is none), so that clients can
    // mark admins and not offer actions on them.
    admins: z.array(z.string()).optional(),
    // The rooms this user owns or moderates, with the role.
    roles: z.record(z.string(), z.enum(['owner', 'moderator'])).optional(),
    // The rooms this user is banned from, or muted in, now: until when (null: until lifted).
    banned: z.record(z.string(), until).optional(),
    muted: z.record(z.string(), until).optional(),
    // Who put each of those in force, by room, where the server knows it.
    bannedBy: z.record(z.string(), wireUserSchema).optional(),
    mutedBy: z.record(z.string(), wireUserSchema).optional(),
  }),
  chatFrameSchema,
  editFrameSchema,
  deleteFrameSchema,
  reactFrameSchema,
  z.object({ type: z.literal('join'), room: z.string(), user: wireUserSchema }),
  z.object({ type: z.literal('left'), room: z.string(), user: wireUserSchema }),
  z.object({
    type: z.literal('list'),
    room: z.string(),
    data: z.array(wireUserSchema),
    lastId: z.number().int().nonnegative(),
    lastTs: z.number().optional(),
    // The room's owner and moderators, by user id (present or not); everyone else is a member.
    roles: z.record(z.string(), z.enum(['owner', 'moderator'])).optional(),
    // Who is muted in the room now, by user id: until when (null: until lifted).
    muted: z.record(z.string(), until).optional(),
    // To those who moderate the room only: who is banned from it now (they are not in it), by name.
    banned: z.array(z.object({ user: wireUserSchema, until })).optional(),
  }),
  // You were kicked out of the room by `by`: your connections left it (join again to come back,
  // unless it is private: your membership was withdrawn).
  z.object({ type: z.literal('kicked'), room: z.string(), by: wireUserSchema }),
  // You are banned from the room by `by`, until `until` (absent: until lifted): your connections left it.
  z.object({ type: z.literal('banned'), room: z.string(), by: wireUserSchema, until: z.number().int().optional() }),
  // What a moderator, owner or admin did in the room: to everyone in it.
  z.object({
    type: z.literal('moderation'),
    room: z.string(),
    action: moderationActionSchema,
    user: wireUserSchema,
    by: wireUserSchema,
    ts: z.number(),
    until: z.number().int().optional(),
    // For action role: the role given.
    role: givenRoleSchema.optional(),
  }),
  z.object({
    type: z.literal('history'),
    room: z.string(),
    data: z.array(chatFrameSchema),
    more: z.boolean(),
    // The room's newest id when the page was read: every event up to it is folded into the page.
    lastId: z.number().int().nonnegative().optional(),
    rid: z.string().optional(),
  }),
  z.object({ type: z.literal('ack'), cid: z.string(), room: z.string(), id: z.number().int(), ts: z.number() }),
  z.object({ type: z.literal('typing'), room: z.string(), user: wireUserSchema }),
  // This user read the room up to `id` on another of their connections.
  z.object({ type: z.literal('read'), room: z.string(), id: z.number().int().nonnegative() }),
  // The answer to a search: matching messages newest first; `more` when older ones match.
  z.object({ type: z.literal('search'), q: z.string(), data: z.array(chatFrameSchema), more: z.boolean(), rid: z.string().optional() }),
  // Message `id` of the room, by `user`, names this user.
  z.object({ type: z.literal('mention'), room: z.string(), id: z.number().int().nonnegative(), user: wireUserSchema }),
  // A room you can see now appeared: a new public room, or a private room you were added to.
  z.object({ type: z.literal('room'), room: z.string(), private: z.boolean() }),
  z.object({
    type: z.literal('error'),
    // One of errorCodes; a client takes an unknown code from a newer server as an error all the same.
    code: z.string(),
    message: z.string(),
    cid: z.string().optional(),
    // The rid of the refused request (history, search), when it had one.
    rid: z.string().optional(),
    room: z.string().optional(),
    // For history_gap: the id the room's history now goes on after.
    lastId: z.number().int().nonnegative().optional(),
  }),
]);

/** Every frame the server sends on /ws/chat. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;
export type WelcomeFrame = Extract<ServerFrame, { type: 'welcome' }>;
export type ListFrame = Extract<ServerFrame, { type: 'list' }>;

/**
 * The stable codes of `error` frames (and of HTTP errors that come from the chat core). Clients
 * match codes; people read the messages that come with them.
 */
export const errorCodes = [
  'bad_request',
  'forbidden',
  'not_found',
  'rate_limited',
  'too_large',
  'history_gap',
  // You are banned from the room (join, read, post, search it): by a moderator, its owner or an admin.
  'banned',
  // You are muted in the room: you may read it, not post (chat, edit, react, typing).
  'muted',
  // The store cannot be reached now: nothing was done; the same request (a send with the same cid) may succeed later.
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

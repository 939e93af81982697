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
  // The store cannot be reached now: nothing was done; the same request (a send with the same cid) may succeed later.
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

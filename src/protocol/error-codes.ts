/**
 * The stable codes of `error` frames (and of HTTP errors that come from the chat core). Clients
 * match codes; people read the messages that come with them.
 */
export const errorCodes = ['bad_request', 'forbidden', 'not_found', 'rate_limited', 'too_large', 'history_gap', 'internal'] as const;

export type ErrorCode = (typeof errorCodes)[number];

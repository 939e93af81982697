import type { ErrorCode } from '../protocol/error-codes.js';

/** A refusal with a stable code: the WebSocket layer sends it as `error`, the HTTP layer maps it to a status. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

import type { ErrorCode } from '../protocol/error-codes.js';
import { BrokerUnavailableError } from '../broker/types.js';
import { StoreUnavailableError } from '../store/types.js';

/** A refusal with a stable code: the WebSocket layer sends it as `error`, the HTTP layer maps it to a status. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What the client is told of an error: a refusal, or a store or broker that cannot be reached now
 * (`unavailable`: the client may send again); undefined for a failure of the server itself.
 */
export function asRefusal(err: unknown): ChatError | undefined {
  if (err instanceof ChatError) return err;
  if (err instanceof StoreUnavailableError || err instanceof BrokerUnavailableError) return new ChatError('unavailable', err.message);
  return undefined;
}

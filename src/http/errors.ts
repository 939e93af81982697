/**
 * Every failure of the HTTP API becomes `{error: {code, message}}` with a status a client can act
 * on. Internal errors are logged here and answered with a message that reveals nothing.
 */
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { ChatError } from '../realtime/errors.js';
import type { ErrorCode } from '../protocol/error-codes.js';
import { NameBannedError, NameTakenError, NoSuchRoomError, RoomExistsError, StoreUnavailableError } from '../store/types.js';

/** The protocol's codes plus the ones only HTTP has. */
export type HttpErrorCode =
  | ErrorCode
  | 'unauthorized'
  | 'name_taken'
  | 'room_exists'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'upgrade_required';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const chatStatus: Record<ErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  too_large: 413,
  rate_limited: 429,
  history_gap: 409,
  banned: 403,
  muted: 403,
  unavailable: 503,
  internal: 500,
};

/** Errors from koa, the body parser and http-errors carry a status; these are the ones a client caused. */
const exposedStatus: Record<number, { code: HttpErrorCode; message?: string }> = {
  400: { code: 'bad_request' },
  401: { code: 'unauthorized', message: 'sign in first' },
  403: { code: 'forbidden', message: 'forbidden' },
  404: { code: 'not_found', message: 'not found' },
  405: { code: 'method_not_allowed', message: 'method not allowed' },
  413: { code: 'too_large', message: 'request body too large' },
  415: { code: 'unsupported_media_type', message: 'unsupported request body encoding' },
};

interface StatusError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  message?: unknown;
}

/** The response for an error, or undefined when it is an internal failure. */
export function toHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  if (err instanceof ChatError) {
    return err.code === 'internal' ? undefined : new HttpError(chatStatus[err.code] ?? 500, err.code, err.message);
  }
  const storeCode = (err as { code?: unknown } | null)?.code;
  if (err instanceof NameBannedError || storeCode === 'name_banned') return new HttpError(403, 'banned', (err as Error).message);
  if (err instanceof NameTakenError || storeCode === 'name_taken') return new HttpError(409, 'name_taken', (err as Error).message);
  if (err instanceof RoomExistsError || storeCode === 'room_exists') return new HttpError(409, 'room_exists', (err as Error).message);
  if (err instanceof NoSuchRoomError || storeCode === 'no_such_room') return new HttpError(404, 'not_found', (err as Error).message);
  if (err instanceof StoreUnavailableError) return new HttpError(503, 'unavailable', err.message, { 'Retry-After': '2' });
  if (typeof err === 'object' && err !== null) {
    const e = err as StatusError;
    const status = Number(e.status ?? e.statusCode);
    const known = exposedStatus[status] ?? (status >= 400 && status < 500 ? { code: 'bad_request' as const } : undefined);
    if (known) {
      // The body parser's SyntaxError quotes the input back; say it plainly instead.
      const message =
        known.message ??
        (err instanceof SyntaxError
          ? 'malformed JSON body: send one JSON object'
          : e.expose === true && typeof e.message === 'string'
            ? e.message
            : 'bad request');
      return new HttpError(status, known.code, message);
    }
  }
  return undefined;
}

/**
 * For a failure to read a request body (bad JSON, bad compression, too large, cut off): it is the
 * client's doing, so it is a 4xx, never a 500.
 */
export function bodyError(err: unknown): HttpError {
  const status = Number((err as StatusError | null)?.status);
  if (status === 413) return new HttpError(413, 'too_large', 'request body too large');
  if (status === 415) return new HttpError(415, 'unsupported_media_type', 'unsupported request body encoding');
  if (err instanceof SyntaxError) return new HttpError(400, 'bad_request', 'malformed JSON body: send one JSON object');
  return new HttpError(400, 'bad_request', 'could not read the request body');
}

/** Outermost API middleware: turns thrown errors into JSON answers. */
export function errorMiddleware(logger: Logger): Middleware {
  return async function handleErrors(ctx, next) {
    try {
      await next();
    } catch (err) {
      let answer = toHttpError(err);
      if (!answer) {
        logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
        answer = new HttpError(500, 'internal', 'internal error');
      }
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = { error: { code: answer.code, message: answer.message } };
    }
  };
}

/** How a client going away mid-response shows up in a body stream: a closed tab, not a fault. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * The app's 'error' listener, for errors after a handler returned (a body stream failing, say).
 * A client that leaves before its download ends is logged at debug, not warned about.
 */
export function appErrorListener(logger: Logger): (err: unknown) => void {
  return (err) => {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code !== undefined && CLIENT_GONE.has(code)) logger.debug({ code }, 'client went away before the response ended');
    else logger.warn({ err }, 'http error outside a handler');
  };
}

/**
 * Reads a JSON request body into ctx.request.body. The bytes must be UTF-8: a body that is not is
 * refused, never decoded with replacement characters, so a name or a message cannot silently
 * change on the way in.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import type { Context, Middleware } from 'koa';
import getRawBody from 'raw-body';
import { bodyError, HttpError } from './errors.js';

declare module 'koa' {
  interface Request {
    /** The parsed JSON body; undefined when the request has none or it is not JSON. */
    body?: unknown;
  }
}

/** Methods whose body is read; others (GET, DELETE…) are left alone. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** `application/json` and any `application/*+json`, the same test parseBody uses. */
export function isJsonRequest(ctx: Context): boolean {
  return Boolean(ctx.is('json', '+json'));
}

/** A leading byte-order mark is allowed (RFC 8259 lets a parser ignore it); it is not part of the JSON. */
const BOM = '\uFEFF';
/** Like the parser this replaced: the body is an object or an array, not a bare string or number. */
const STARTS_LIKE_OBJECT = /^[ \t\n\r]*[[{]/;
const MALFORMED = 'malformed JSON body: send one JSON object';

/** The JSON body parser of the API; `limit` is in bytes or a string such as '64kb', counted after decompression. */
export function jsonBody(limit: string | number): Middleware {
  return async function readJsonBody(ctx, next) {
    if (BODY_METHODS.has(ctx.method) && ctx.request.body === undefined && isJsonRequest(ctx)) {
      const charset = ctx.request.charset.toLowerCase();
      if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') {
        throw new HttpError(415, 'unsupported_media_type', 'the body must be UTF-8: send charset=utf-8 or no charset');
      }
      const bytes = await readBytes(ctx.req, limit);
      if (!isUtf8(bytes)) throw new HttpError(400, 'bad_request', 'the request body is not valid UTF-8');
      ctx.request.body = parseJson(bytes.toString('utf8'));
    }
    await next();
  };
}

/** The body's bytes, decompressed; a failure to read it (too large, cut off, bad compression) is the client's. */
async function readBytes(req: IncomingMessage, limit: string | number): Promise<Buffer> {
  const coding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const stream = decompressed(req, coding);
  try {
    // Content-Length counts the bytes on the wire, so it bounds the body only when they are not compressed.
    return await getRawBody(stream, { limit, length: stream === req ? req.headers['content-length'] : undefined });
  } catch (err) {
    throw bodyError(err);
  }
}

function decompressed(req: IncomingMessage, coding: string): Readable {
  if (coding === 'identity') return req;
  // createUnzip takes gzip and zlib-wrapped deflate alike, as the parser this replaced did.
  const inflater = coding === 'gzip' || coding === 'deflate' ? createUnzip() : coding === 'br' ? createBrotliDecompress() : undefined;
  if (!inflater) throw new HttpError(415, 'unsupported_media_type', 'unsupported request body encoding: send gzip, deflate, br or none');
  // pipe() does not pass on a client that goes away mid-body; without this the read would never end.
  req.once('close', () => {
    if (!req.complete) inflater.destroy(new Error('request aborted'));
  });
  return req.pipe(inflater);
}

function parseJson(text: string): unknown {
  if (text.startsWith(BOM)) text = text.slice(BOM.length);
  // An empty body is an empty object, so a bodiless POST sent as JSON (logout) still works.
  if (text === '') return {};
  if (!STARTS_LIKE_OBJECT.test(text)) throw new HttpError(400, 'bad_request', MALFORMED);
  try {
    return JSON.parse(text, checkKeysAndStrings);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // JSON.parse's message quotes the input back; say it plainly instead.
    throw new HttpError(400, 'bad_request', MALFORMED);
  }
}

/**
 * A `__proto__` key is refused outright, so no later merge or spread can turn it into a prototype.
 * A `\uD800`-style escape of a lone surrogate is valid JSON in valid UTF-8 but not text: it cannot
 * be stored as UTF-8 and would come back as U+FFFD, so it is refused like bytes that are not UTF-8.
 */
function checkKeysAndStrings(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new HttpError(400, 'bad_request', 'the body must not have a "__proto__" key');
  if (!key.isWellFormed() || (typeof value === 'string' && !value.isWellFormed())) {
    throw new HttpError(400, 'bad_request', 'the request body is not valid UTF-8: it has a \\u escape of a lone UTF-16 surrogate');
  }
  return value;
}

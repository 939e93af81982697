/** Input checks at the edge: a bad body, query or path parameter is a 400 that says what is wrong. */
import type { Context } from 'koa';
import type { z } from 'zod';
import { checkInput, describeIssues } from '../issues.js';
import { HttpError } from './errors.js';
import { isJsonRequest } from './json-body.js';

export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = checkInput(schema, value);
  if (!result.success) throw new HttpError(400, 'bad_request', describeIssues(result.error));
  return result.data;
}

/** The JSON body of a request, checked against the schema. */
export function parseBody<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  if (!isJsonRequest(ctx)) {
    throw new HttpError(400, 'bad_request', 'send a JSON body with Content-Type: application/json');
  }
  const body: unknown = ctx.request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  }
  return parse(schema, body);
}

/**
 * The first middleware: a request whose target cannot be routed, or that lacks a Host, gets a 400
 * before anything reads `ctx.path` (which throws on such a target); an absolute-form target is
 * routed by its path.
 */
import type { Middleware } from 'koa';
import { refuseRequestLine } from '../net/request-target.js';

export const requestTarget: Middleware = async (ctx, next) => {
  const refusal = refuseRequestLine(ctx.req);
  if (refusal !== undefined) {
    ctx.status = 400;
    ctx.body = { error: { code: 'bad_request', message: refusal } };
    return;
  }
  await next();
};

/**
 * The first middleware: a request whose target cannot be routed gets a 400 before anything reads
 * `ctx.path` (which throws on it); an absolute-form target is routed by its path.
 */
import type { Middleware } from 'koa';
import { BAD_TARGET, originForm } from '../net/request-target.js';

export const requestTarget: Middleware = async (ctx, next) => {
  const target = originForm(ctx.req.url);
  if (target === undefined) {
    ctx.status = 400;
    ctx.body = { error: { code: 'bad_request', message: BAD_TARGET } };
    return;
  }
  ctx.req.url = target;
  await next();
};

/**
 * The koa application of the HTTP API and the web app. The composition root mounts it on the
 * node's http(s) server; WebSocket upgrades never reach it.
 */
import Koa, { type Middleware } from 'koa';
import { Counter, type Registry } from 'prom-client';
import { clientIp } from '../net/client-ip.js';
import { authRoutes } from './auth-routes.js';
import type { HttpDeps } from './deps.js';
import { appErrorListener, errorMiddleware, HttpError } from './errors.js';
import { healthRoutes } from './health-routes.js';
import { jsonBody } from './json-body.js';
import { messagesRoutes } from './messages-routes.js';
import { moderationRoutes } from './moderation-routes.js';
import { requestTarget } from './request-target.js';
import { roomsRoutes } from './rooms-routes.js';
import { searchRoutes } from './search-routes.js';
import { usersRoutes } from './users-routes.js';
import { securityHeaders } from './security-headers.js';
import { staticFiles } from './static-files.js';

export type { HttpDeps } from './deps.js';

/** Largest JSON body accepted: a message of MAX_TEXT characters fits many times over. */
export const JSON_BODY_LIMIT = '64kb';

function requestCounter(registry: Registry): Counter<'method' | 'status'> {
  const name = 'parley_http_requests_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'method' | 'status'>;
  return new Counter({ name, help: 'HTTP requests answered, by method and status', labelNames: ['method', 'status'], registers: [registry] });
}

export function createHttpApp(deps: HttpDeps): Koa {
  const { settings } = deps;
  const logger = deps.logger.child({ component: 'http' });
  const requests = requestCounter(deps.metrics.registry);

  const app = new Koa();
  app.on('error', appErrorListener(logger));

  // Who asked, and one debug line per request. The path only: the query may carry ?token=.
  const observe: Middleware = async (ctx, next) => {
    const started = performance.now();
    ctx.state.ip = clientIp(ctx.req.socket.remoteAddress, ctx.headers, settings.trustProxy);
    try {
      await next();
    } finally {
      requests.inc({ method: ctx.method, status: String(ctx.status) });
      logger.debug(
        { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started), ip: ctx.state.ip },
        'request',
      );
    }
  };

  const apiHeaders: Middleware = async (ctx, next) => {
    if (ctx.path.startsWith('/api/') || ctx.path === '/api') ctx.set('Cache-Control', 'no-store');
    await next();
  };

  const noSuchEndpoint: Middleware = async (ctx, next) => {
    // The routers record every route whose path matched, whatever the method.
    const matched = (ctx as { matched?: { methods: string[] }[] }).matched ?? [];
    const allowed = [...new Set(matched.flatMap((layer) => layer.methods))];
    if (allowed.length > 0) {
      throw new HttpError(405, 'method_not_allowed', `${ctx.method} is not allowed here`, { Allow: allowed.join(', ') });
    }
    if (ctx.path === '/api' || ctx.path.startsWith('/api/')) {
      throw new HttpError(404, 'not_found', `no endpoint ${ctx.method} ${ctx.path}`);
    }
    if (ctx.path.startsWith('/ws/')) {
      throw new HttpError(426, 'upgrade_required', 'this is a WebSocket endpoint: connect with a WebSocket client');
    }
    await next();
  };

  app.use(securityHeaders(settings));
  app.use(requestTarget);
  app.use(observe);
  app.use(apiHeaders);
  app.use(errorMiddleware(logger));
  app.use(jsonBody(JSON_BODY_LIMIT));
  for (const router of [authRoutes(deps), roomsRoutes(deps), usersRoutes(deps), messagesRoutes(deps), moderationRoutes(deps), searchRoutes(deps), healthRoutes(deps)]) {
    app.use(router.routes());
  }
  app.use(noSuchEndpoint);
  for (const middleware of staticFiles(deps.webRoot)) app.use(middleware);
  return app;
}

/** Liveness, readiness and Prometheus metrics, for load balancers and monitoring. */
import Router from '@koa/router';
import type { HttpDeps } from './deps.js';

export function healthRoutes(deps: HttpDeps): Router {
  const router = new Router();

  // Alive: the process answers. Says nothing about its dependencies, so a restart would not help them.
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  // Ready: the store and broker answer, so a balancer may send traffic here.
  router.get('/readyz', async (ctx) => {
    let ready = false;
    try {
      ready = await deps.ready();
    } catch (err) {
      deps.logger.warn({ err }, 'readiness check failed');
    }
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', node: deps.settings.nodeId };
  });

  router.get('/metrics', async (ctx) => {
    const { registry } = deps.metrics;
    const text = await registry.metrics();
    ctx.type = registry.contentType;
    ctx.body = text;
  });

  return router;
}

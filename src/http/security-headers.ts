/**
 * Security headers on every response (helmet, through koa-helmet). The page's policy allows only
 * what the built web app uses, so an XSS slip in the page cannot load or run anything else: its
 * own scripts and styles, data: for the favicon, and fetch and WebSocket to this server. It may
 * not be framed, and no Referer leaves it (a `?token=` in a URL must not travel with a link).
 */
import type { IncomingMessage } from 'node:http';
import type { Middleware } from 'koa';
import helmet from 'koa-helmet';
import { requestHost } from '../net/request-host.js';
import { requestScheme } from '../net/request-scheme.js';
import type { HttpSettings } from './deps.js';

/** A host as it may appear in a CSP source; anything else from a Host header is left out. */
const HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export function securityHeaders(settings: Pick<HttpSettings, 'tls' | 'trustProxy'>): Middleware {
  // CSP 3 lets 'self' cover ws: and wss: of the page's host; browsers before it need them named.
  const webSocketSelf = (req: IncomingMessage): string => {
    const host = requestHost(req, settings.trustProxy);
    if (host === undefined || !HOST.test(host)) return '';
    return `${requestScheme(req, settings.tls, settings.trustProxy) === 'https' ? 'wss' : 'ws'}://${host}`;
  };
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'", webSocketSelf],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Only where Parley ends TLS itself; behind a proxy that is the proxy's call. Other sites under
    // the same domain are not Parley's to force onto HTTPS.
    strictTransportSecurity: settings.tls ? { includeSubDomains: false } : false,
  });
}

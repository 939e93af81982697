/**
 * The request target as the server routes it. Node's HTTP parser lets through targets that URL
 * parsers read differently or not at all (`//[`, `http://[::1`, `//%5B`), and each part of the
 * server that parsed one threw. They are refused at the edge instead, and the absolute form that
 * HTTP/1.1 servers must accept (`http://host/path?query`) is reduced to its path and query, so
 * everything after sees the origin form only.
 */
import type { IncomingMessage } from 'node:http';

/** What a client is told when its target is refused. */
export const BAD_TARGET = 'the request target is not a path this server can route';

/**
 * Checks the request line and Host of a request before anything routes it, for plain requests and
 * upgrades alike: the reason to refuse it with 400, or undefined, and then `req.url` is in origin
 * form. An HTTP/1.1 request must name its Host (RFC 9112); the server is created without Node's own
 * check, which answers with an empty 400 rather than the API's JSON.
 */
export function refuseRequestLine(req: IncomingMessage): string | undefined {
  const target = originForm(req.url);
  if (target === undefined) return BAD_TARGET;
  if (req.httpVersion === '1.1' && req.headers.host === undefined) return 'an HTTP/1.1 request must have a Host header';
  req.url = target;
  return undefined;
}

/**
 * `/path?query` for a target the server can route, or undefined for one it cannot: an origin form
 * whose first segment a URL parser would take for a host (`//x`, `/\x`), or that holds spaces or
 * control characters; an absolute form that is not a valid http(s) or ws(s) URL; anything else
 * (`*`, an authority).
 */
export function originForm(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  if (target.startsWith('/')) return ORIGIN_FORM.test(target) ? target : undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (!WEB_SCHEMES.has(url.protocol)) return undefined;
  // Its path may begin with "//" too (`http://host//x`).
  return originForm(url.pathname + url.search);
}

// After a first "/" that is not followed by another slash, a URL parser can only read a path and
// a query, which never fail. Printable characters only: URL parsers drop tabs and newlines.
const ORIGIN_FORM = /^\/(?![/\\])[!-~\u0080-\uffff]*$/;

const WEB_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);

import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether a browser page from the request's Origin may open a chat connection. Clients that send
 * no Origin (CLI, bots, other servers) are not browsers and are not subject to it; the session
 * token is what protects them. With no allow-list only the server's own origin is accepted: the
 * same scheme (as the client used it), host and port.
 */
export function originAllowed(headers: IncomingHttpHeaders, allowed: string[] | undefined, scheme: 'http' | 'https'): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  if (allowed) return allowed.includes(origin.replace(/\/$/, ''));
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // Behind a proxy the Host header is the public one (nginx passes `Host $host`).
  const requestHost = headers['x-forwarded-host'] ?? headers.host;
  return (
    url.protocol === `${scheme}:` &&
    typeof requestHost === 'string' &&
    url.host.toLowerCase() === requestHost.toLowerCase()
  );
}

import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether a browser page from the request's Origin may open a chat connection. Clients that send
 * no Origin (CLI, bots, other servers) are not browsers and are not subject to it; the session
 * token is what protects them. With no allow-list only the server's own origin is accepted.
 */
export function originAllowed(headers: IncomingHttpHeaders, allowed: string[] | undefined): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  if (allowed) return allowed.includes(origin.replace(/\/$/, ''));
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  // Behind a proxy the Host header is the public one (nginx passes `Host $host`).
  const requestHost = headers['x-forwarded-host'] ?? headers.host;
  return typeof requestHost === 'string' && host.toLowerCase() === requestHost.toLowerCase();
}

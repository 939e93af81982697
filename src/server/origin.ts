/**
 * Whether a browser page from the request's Origin may open a chat connection. Clients that send
 * no Origin (CLI, bots, other servers) are not browsers and are not subject to it; the session
 * token is what protects them. With no allow-list only the server's own origin is accepted: the
 * same scheme and host (with port) as the client used, which behind a trusted proxy are the ones
 * it forwards (see requestScheme and requestHost).
 */
export function originAllowed(origin: string | undefined, allowed: string[] | undefined, scheme: 'http' | 'https', host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (allowed) return allowed.includes(origin.replace(/\/$/, ''));
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return url.protocol === `${scheme}:` && host !== undefined && url.host.toLowerCase() === host.toLowerCase();
}

/** Server URLs: the user gives the http(s) base URL (ws(s) is accepted too); the SDK derives the rest. */

/** Normalises a server URL to its http(s) base without a trailing slash; throws TypeError on a bad URL. */
export function httpBaseUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new TypeError(`not a URL: ${input}`);
  }
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`unsupported URL scheme ${url.protocol} (use http://, https://, ws:// or wss://)`);
  }
  url.search = '';
  url.hash = '';
  // A base path (behind a proxy prefix) is kept; a pasted endpoint path and the trailing slash go.
  url.pathname = url.pathname.replace(/\/ws\/(chat|echo)\/?$/, '/');
  return url.toString().replace(/\/+$/, '');
}

/** The WebSocket URL of `path` (e.g. /ws/chat) on the server of `base`. */
export function webSocketUrl(base: string, path: string, query: Record<string, string> = {}): string {
  const url = new URL(httpBaseUrl(base) + path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.toString();
}

/**
 * An HTTPS request that trusts a given CA (fetch cannot be given one without undici's Agent): for
 * tests against a server with a certificate made by test/helpers/certs.ts.
 */
import { request } from 'node:https';

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpsRequest(
  url: string,
  options: { ca?: string; method?: string; headers?: Record<string, string>; json?: unknown },
): Promise<HttpsAnswer> {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers = { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, ca: options.ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

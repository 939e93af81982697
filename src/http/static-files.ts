/**
 * The built web app: files from the web root, and index.html for any other page path so the
 * single-page app can route it. API and WebSocket paths never fall through to the page.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Middleware } from 'koa';
import serve from 'koa-static';

function looksLikeFile(path: string): boolean {
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last.includes('.');
}

export function staticFiles(webRoot: string): Middleware[] {
  const files = serve(webRoot, {
    index: 'index.html',
    setHeaders(res, path) {
      // Vite puts a content hash in every asset name, so they never change.
      if (/[\\/]assets[\\/]/.test(path)) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      else res.setHeader('Cache-Control', 'no-cache');
    },
  });

  const pageFallback: Middleware = async (ctx, next) => {
    await next();
    if (ctx.body !== undefined || ctx.status !== 404) return;
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return;
    // A missing /assets/app.js is a 404; a page like /rooms/lobby is the app's to route.
    if (looksLikeFile(ctx.path) && !ctx.get('Accept').includes('text/html')) return;
    let html: Buffer;
    try {
      html = await readFile(join(webRoot, 'index.html'));
    } catch {
      return;
    }
    ctx.status = 200;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = html;
  };

  return [pageFallback, files];
}

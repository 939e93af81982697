/** Handing the session cookie to the browser, Secure when the browser is talking TLS. */
import type { Context } from 'koa';
import { clearedSessionCookie, sessionCookie } from '../auth/session.js';
import { requestScheme } from '../net/request-scheme.js';
import type { HttpSettings } from './deps.js';

/**
 * TLS here, or TLS at a trusted proxy that says so. Behind nginx the node itself speaks plain
 * HTTP, and a cookie without Secure would then also travel over plain HTTP.
 */
export function isSecureRequest(ctx: Context, settings: HttpSettings): boolean {
  return requestScheme(ctx.req, settings.tls, settings.trustProxy) === 'https';
}

export function setSessionCookie(ctx: Context, token: string, secure: boolean, maxAgeMs: number): void {
  ctx.append('Set-Cookie', sessionCookie(token, { secure, maxAgeMs }));
}

export function clearSessionCookie(ctx: Context, secure: boolean): void {
  ctx.append('Set-Cookie', clearedSessionCookie({ secure }));
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SESSION_COOKIE,
  clearedSessionCookie,
  cookieValue,
  resolveSession,
  sessionCookie,
  tokenFromRequest,
} from '../../src/auth/session.js';
import { signSession } from '../../src/auth/tokens.js';
import type { Session, User } from '../../src/store/types.js';

test('the token comes from a Bearer header first', () => {
  const headers = { authorization: 'Bearer tok.A', cookie: `${SESSION_COOKIE}=tok.B` };
  assert.equal(tokenFromRequest(headers, '/ws/chat?token=tok.C'), 'tok.A');
  assert.equal(tokenFromRequest({ authorization: 'bearer   tok.A  ' }, undefined), 'tok.A', 'scheme is case-insensitive');
});

test('then from the session cookie, among other cookies', () => {
  const cookie = `theme=dark; ${SESSION_COOKIE}=tok.B; other=1`;
  assert.equal(tokenFromRequest({ cookie }, '/ws/chat?token=tok.C'), 'tok.B');
  assert.equal(tokenFromRequest({ authorization: 'Basic dXNlcjpwdw==', cookie }, undefined), 'tok.B', 'other schemes are not tokens');
  assert.equal(tokenFromRequest({ cookie: `x${SESSION_COOKIE}=nope` }, undefined), undefined, 'exact cookie name only');
});

test('then from ?token= in the URL', () => {
  assert.equal(tokenFromRequest({}, '/ws/chat?room=lobby&token=tok.C'), 'tok.C');
  assert.equal(tokenFromRequest({}, '/ws/chat?token='), undefined);
  assert.equal(tokenFromRequest({}, '/ws/chat'), undefined);
  assert.equal(tokenFromRequest({}, undefined), undefined);
  assert.equal(tokenFromRequest({ authorization: 'Bearer', cookie: `${SESSION_COOKIE}=` }, '/'), undefined);
});

test('cookie values may be quoted or percent-encoded; bad encoding is kept raw', () => {
  assert.equal(cookieValue('a="q.v"', 'a'), 'q.v');
  assert.equal(cookieValue('a=x%2Ey', 'a'), 'x.y');
  assert.equal(cookieValue('a=%E0%A4%A', 'a'), '%E0%A4%A');
  assert.equal(cookieValue(undefined, 'a'), undefined);
});

test('the session cookie is HttpOnly, SameSite=Lax, site-wide, and Secure only under TLS', () => {
  const plain = sessionCookie('tok.A', { secure: false, maxAgeMs: 7 * 86_400_000 });
  assert.equal(plain, `${SESSION_COOKIE}=tok.A; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax`);
  assert.match(sessionCookie('tok.A', { secure: true, maxAgeMs: 1000 }), /; Secure$/);
  const cleared = clearedSessionCookie({ secure: false });
  assert.match(cleared, new RegExp(`^${SESSION_COOKIE}=;`));
  assert.match(cleared, /Max-Age=0/);
  assert.match(cleared, /HttpOnly/);
  assert.match(clearedSessionCookie({ secure: true }), /Secure/);
});

test('resolveSession accepts a valid token while its session exists, for the user it names', async () => {
  const secret = 's'.repeat(64);
  const now = Date.now();
  const alice: User = { id: 3, name: 'alice', guest: false };
  const sessions = new Map<string, Session>([['c2Vzc2lvbiBvZiBhbGljZQ', { id: 'c2Vzc2lvbiBvZiBhbGljZQ', user: alice, expiresAt: now + 60_000 }]]);
  // The Store's getSession, as every implementation answers it.
  const store = {
    getSession: async (id: string, at: number) => {
      const s = sessions.get(id);
      return s && s.expiresAt > at ? s : undefined;
    },
  };
  const session = sessions.get('c2Vzc2lvbiBvZiBhbGljZQ')!;
  const headers = { authorization: `Bearer ${signSession(secret, session)}` };
  assert.deepEqual(await resolveSession(store, secret, headers, '/'), session);
  assert.equal(await resolveSession(store, secret, {}, '/'), undefined, 'no token');
  assert.equal(await resolveSession(store, 'x'.repeat(64), headers, '/'), undefined, 'other secret');
  sessions.set(session.id, { ...session, user: { id: 3, name: 'mallory', guest: false } });
  assert.equal(await resolveSession(store, secret, headers, '/'), undefined, 'its id now names someone else');
  sessions.set(session.id, { ...session, user: { id: 4, name: 'alice', guest: false } });
  assert.equal(await resolveSession(store, secret, headers, '/'), undefined, 'the session is another user\'s');
  sessions.delete(session.id);
  assert.equal(await resolveSession(store, secret, headers, '/'), undefined, 'the session ended');
});

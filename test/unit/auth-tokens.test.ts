import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signSession, verifySession } from '../../src/auth/tokens.js';

const secret = 'a'.repeat(64);
const alice = { id: 7, name: '小明', guest: false };
const hour = 3_600_000;
const sid = 'Qm9vdHN0cmFwcGVkIHNlc3Np';
/** A session of `user` that expires an hour from now (or from `now`). */
const session = (user: { id: number; name: string; guest: boolean }, now = Date.now()) => ({ id: sid, user, expiresAt: now + hour });

test('a signed token verifies to its user and session until it expires', () => {
  const now = 1_700_000_000_000;
  const token = signSession(secret, session(alice, now));
  assert.deepEqual(verifySession(secret, token, now), { ...alice, sid, exp: now + hour });
  assert.deepEqual(verifySession(secret, token, now + hour - 1), { ...alice, sid, exp: now + hour });
  assert.equal(verifySession(secret, token, now + hour), undefined, 'expired at exp');
  assert.equal(verifySession(secret, token, now + 2 * hour), undefined);
});

test('only the exact signature is accepted, not the other spellings of its last character', () => {
  // 32 bytes take 43 base64url characters: the last one carries 4 bits of the MAC and 2 unused
  // bits, so 3 other characters decode to the very same bytes.
  const token = signSession(secret, session(alice));
  const [body, sig] = token.split('.') as [string, string];
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(sig.at(-1)!);
  const others = [1, 2, 3].map((low) => alphabet[(last & ~3) | ((last + low) & 3)]!);
  for (const other of others) {
    const spelled = sig.slice(0, -1) + other;
    assert.deepEqual(Buffer.from(spelled, 'base64url'), Buffer.from(sig, 'base64url'), 'the same bytes');
    assert.equal(verifySession(secret, `${body}.${spelled}`), undefined, `last character ${other} for ${sig.at(-1)}`);
  }
  assert.ok(verifySession(secret, token));
});

test('the token is URL- and cookie-safe', () => {
  const token = signSession(secret, session({ id: 1, name: 'a;b=c d/"é"', guest: true }));
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.equal(verifySession(secret, token)?.name, 'a;b=c d/"é"');
});

test('a token signed with another secret is refused', () => {
  const token = signSession('b'.repeat(64), session(alice));
  assert.equal(verifySession(secret, token), undefined);
});

test('a tampered payload or signature is refused', () => {
  const token = signSession(secret, session(alice));
  const [body, sig] = token.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ id: 1, name: 'admin', guest: false, sid, exp: Date.now() + hour })).toString('base64url');
  assert.equal(verifySession(secret, `${forged}.${sig}`), undefined, 'payload swapped');
  const flip = (s: string) => s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
  assert.equal(verifySession(secret, `${body}.${flip(sig)}`), undefined, 'signature changed');
  assert.equal(verifySession(secret, `${flip(body)}.${sig}`), undefined, 'payload changed');
  assert.equal(verifySession(secret, `${body}.${sig.slice(0, -4)}`), undefined, 'signature truncated');
});

test('malformed tokens are refused without throwing', () => {
  const token = signSession(secret, session(alice));
  for (const bad of ['', '.', 'abc', `${token}.x`, token.replace('.', ''), 'a.b', '!!!.???', 'x'.repeat(10_000)]) {
    assert.equal(verifySession(secret, bad), undefined, bad.slice(0, 40));
  }
});

test('a correctly signed payload of the wrong shape is refused', () => {
  // Sign arbitrary JSON with the real key to prove the shape check, not only the signature, guards.
  const exp = Date.now() + hour;
  const wrong = [
    { id: 'x', name: 'a', guest: false, sid, exp },
    { id: 1, name: 'a' },
    [1, 2],
    // A token of the time before sessions: no sid. Refused, so its holder signs in again.
    { id: 1, name: 'a', guest: false, exp },
    { id: 1, name: 'a', guest: false, sid: 'short', exp },
  ];
  for (const payload of wrong) {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const sig = createHmac('sha256', secret).update(body).digest('base64url');
    assert.equal(verifySession(secret, `${body}.${sig}`), undefined, JSON.stringify(payload));
  }
});

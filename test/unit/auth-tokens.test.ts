import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signSession, verifySession } from '../../src/auth/tokens.js';

const secret = 'a'.repeat(64);
const alice = { id: 7, name: '小明', guest: false };
const hour = 3_600_000;

test('a signed token verifies to its user until it expires', () => {
  const now = 1_700_000_000_000;
  const token = signSession(secret, alice, hour, now);
  assert.deepEqual(verifySession(secret, token, now), { ...alice, exp: now + hour });
  assert.deepEqual(verifySession(secret, token, now + hour - 1), { ...alice, exp: now + hour });
  assert.equal(verifySession(secret, token, now + hour), undefined, 'expired at exp');
  assert.equal(verifySession(secret, token, now + 2 * hour), undefined);
});

test('the token is URL- and cookie-safe', () => {
  const token = signSession(secret, { id: 1, name: 'a;b=c d/"é"', guest: true }, hour);
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.equal(verifySession(secret, token)?.name, 'a;b=c d/"é"');
});

test('a token signed with another secret is refused', () => {
  const token = signSession('b'.repeat(64), alice, hour);
  assert.equal(verifySession(secret, token), undefined);
});

test('a tampered payload or signature is refused', () => {
  const token = signSession(secret, alice, hour);
  const [body, sig] = token.split('.') as [string, string];
  const forged = Buffer.from(JSON.stringify({ id: 1, name: 'admin', guest: false, exp: Date.now() + hour })).toString('base64url');
  assert.equal(verifySession(secret, `${forged}.${sig}`), undefined, 'payload swapped');
  const flip = (s: string) => s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
  assert.equal(verifySession(secret, `${body}.${flip(sig)}`), undefined, 'signature changed');
  assert.equal(verifySession(secret, `${flip(body)}.${sig}`), undefined, 'payload changed');
  assert.equal(verifySession(secret, `${body}.${sig.slice(0, -4)}`), undefined, 'signature truncated');
});

test('malformed tokens are refused without throwing', () => {
  const token = signSession(secret, alice, hour);
  for (const bad of ['', '.', 'abc', `${token}.x`, token.replace('.', ''), 'a.b', '!!!.???', 'x'.repeat(10_000)]) {
    assert.equal(verifySession(secret, bad), undefined, bad.slice(0, 40));
  }
});

test('a correctly signed payload of the wrong shape is refused', () => {
  // Sign arbitrary JSON with the real key to prove the shape check, not only the signature, guards.
  for (const payload of [{ id: 'x', name: 'a', guest: false, exp: Date.now() + hour }, { id: 1, name: 'a' }, [1, 2]]) {
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const sig = createHmac('sha256', secret).update(body).digest('base64url');
    assert.equal(verifySession(secret, `${body}.${sig}`), undefined, JSON.stringify(payload));
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, passwordSchema, verifyPassword } from '../../src/auth/passwords.js';

test('a hashed password verifies, a different one does not', async () => {
  const hash = await hashPassword('correct horse battery');
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('correct horse batterY', hash), false);
  assert.equal(await verifyPassword('', hash), false);
});

test('the hash is self-describing, salted and never contains the password', async () => {
  const a = await hashPassword('same password');
  const b = await hashPassword('same password');
  assert.match(a, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
  assert.notEqual(a, b, 'two hashes of one password differ by their salt');
  assert.ok(!a.includes('same password'));
  const salt = Buffer.from(a.split('$')[4]!, 'base64url');
  assert.equal(salt.length, 16);
  assert.equal(await verifyPassword('same password', b), true);
});

test('non-ASCII passwords work, in either Unicode normal form', async () => {
  const composed = '密码很安全-café';
  const decomposed = composed.normalize('NFD');
  const hash = await hashPassword(composed);
  assert.equal(await verifyPassword(composed, hash), true);
  assert.equal(await verifyPassword(decomposed, hash), true);
});

test('a malformed or tampered hash is a mismatch, not an exception', async () => {
  const hash = await hashPassword('password123');
  const parts = hash.split('$');
  const flipped = parts.slice();
  const key = Buffer.from(parts[5]!, 'base64url');
  key[0]! ^= 1;
  flipped[5] = key.toString('base64url');
  for (const bad of [
    '',
    'plain-text',
    'scrypt$16384$8$1$short$short',
    flipped.join('$'),
    ['scrypt', '1000', ...parts.slice(2)].join('$'), // N not a power of two
    ['scrypt', String(1 << 30), ...parts.slice(2)].join('$'), // absurd cost
    ['bcrypt', ...parts.slice(1)].join('$'),
  ]) {
    assert.equal(await verifyPassword('password123', bad), false, bad);
  }
});

test('password rules: 8 to 200 characters', async () => {
  assert.equal(passwordSchema.safeParse('1234567').success, false);
  assert.equal(passwordSchema.safeParse('12345678').success, true);
  assert.equal(passwordSchema.safeParse('好'.repeat(8)).success, true, 'counted in characters, not bytes');
  assert.equal(passwordSchema.safeParse('x'.repeat(200)).success, true);
  assert.equal(passwordSchema.safeParse('x'.repeat(201)).success, false);
  await assert.rejects(hashPassword('short'), RangeError);
  await assert.rejects(hashPassword('x'.repeat(201)), RangeError);
});

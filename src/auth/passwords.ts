/**
 * Password hashing with scrypt. A hash is a self-describing string
 * `scrypt$N$r$p$salt$hash` (salt and hash in base64url), so the cost can be raised later
 * without invalidating stored hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';

export const MIN_PASSWORD_CHARS = 8;
export const MAX_PASSWORD_CHARS = 200;

/** A password a user may choose: 8-200 characters (code points). */
export const passwordSchema = z
  .string()
  .refine((s) => [...s].length >= MIN_PASSWORD_CHARS, `password must be at least ${MIN_PASSWORD_CHARS} characters`)
  .refine((s) => [...s].length <= MAX_PASSWORD_CHARS, `password must be at most ${MAX_PASSWORD_CHARS} characters`);

// 2^14 with r=8 is OWASP's floor for scrypt and costs ~16 MiB and ~50 ms per hash.
const COST = { N: 16384, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
// Hashes come from our own database, but bound the parameters anyway so a bad row cannot eat the machine.
const MAX_N = 1 << 20;
const MAX_MEMORY = 256 * 1024 * 1024;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }, keylen: number): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const checked = passwordSchema.safeParse(password);
  if (!checked.success) throw new RangeError(checked.error.issues[0]?.message ?? 'bad password');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST, KEY_BYTES);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

const HASH_FORMAT = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{16,})$/;

/** True when `password` matches `hash`; false for a wrong password or a hash it cannot read. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = HASH_FORMAT.exec(hash);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N must be a power of two > 1 for scrypt.
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  if (128 * N * r > MAX_MEMORY) return false;
  if ([...password].length > MAX_PASSWORD_CHARS) return false;
  const salt = Buffer.from(m[4]!, 'base64url');
  const expected = Buffer.from(m[5]!, 'base64url');
  if (expected.length < 16 || expected.length > 128) return false;
  const actual = await derive(password, salt, { N, r, p }, expected.length);
  return timingSafeEqual(actual, expected);
}

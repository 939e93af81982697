import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecret, SECRET_FILE } from '../../src/auth/secret.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a configured secret is used as is and nothing is written', async (t) => {
  const dir = tempDir(t);
  const configured = 'c'.repeat(40);
  assert.equal(await loadOrCreateSecret(dir, configured), configured);
  assert.throws(() => statSync(join(dir, SECRET_FILE)), { code: 'ENOENT' });
});

test('without one, a secret is generated once, kept private and reused after a restart', async (t) => {
  const dir = join(tempDir(t), 'nested', 'data');
  const first = await loadOrCreateSecret(dir);
  assert.match(first, /^[0-9a-f]{64}$/);
  const file = join(dir, SECRET_FILE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(readFileSync(file, 'utf8').trim(), first);
  assert.equal(await loadOrCreateSecret(dir), first);
  assert.equal(await loadOrCreateSecret(dir, undefined), first);
});

test('two processes starting at once agree on one secret', async (t) => {
  const dir = tempDir(t);
  const secrets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecret(dir)));
  assert.equal(new Set(secrets).size, 1);
  assert.equal(readFileSync(join(dir, SECRET_FILE), 'utf8').trim(), secrets[0]);
});

test('a different data dir gets a different secret', async (t) => {
  assert.notEqual(await loadOrCreateSecret(tempDir(t)), await loadOrCreateSecret(tempDir(t)));
});

test('an unusable secret file is reported, not silently replaced', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, SECRET_FILE), 'short\n');
  await assert.rejects(loadOrCreateSecret(dir), /no usable secret/);
});

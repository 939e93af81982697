import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { ensureDataDir } from '../../src/server/data-dir.js';

const root = mkdtempSync(join(tmpdir(), 'parley-data-dir-'));
after(() => rmSync(root, { recursive: true, force: true }));

it('makes a new data folder with its parents, private to the server, and accepts one that exists', async () => {
  const dir = join(root, 'a', 'b', 'data');
  await ensureDataDir(dir);
  assert.ok(statSync(dir).isDirectory());
  assert.equal(statSync(dir).mode & 0o777, 0o700, 'only the server may read the new data folder');
  await ensureDataDir(dir);
});

it('says which DATA_DIR it cannot use, and why', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, '');
  await assert.rejects(ensureDataDir(file), { message: `cannot use DATA_DIR ${file}: ${file} is a file, not a folder` });
  await assert.rejects(ensureDataDir(join(file, 'below')), /cannot use DATA_DIR .*below: ENOTDIR/);
});

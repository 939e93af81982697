/**
 * `npm start` builds only when a source changed (scripts/build.js --if-changed --check-settings), and
 * checks the settings before it builds. Run on a copy of the project, with the real TypeScript and
 * Vite, so that the checkout's own build is left alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from './cli-helpers.js';

/** A copy of what the build reads, with the checkout's node_modules. */
function copyProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-build-'));
  for (const path of ['src', 'scripts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']) {
    cpSync(join(repoRoot, path), join(dir, path), { recursive: true });
  }
  cpSync(join(repoRoot, 'web'), join(dir, 'web'), { recursive: true, filter: (src) => !src.startsWith(join(repoRoot, 'web', 'dist')) });
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

describe('npm start builds only what changed', () => {
  const dir = copyProject();
  after(() => rmSync(dir, { recursive: true, force: true }));
  const prestart = (env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, ['scripts/build.js', '--if-changed', '--check-settings'], {
      cwd: dir,
      env: { ...process.env, PORT: '', HOST: '', ...env },
      encoding: 'utf8',
      timeout: 180_000,
    });
    return { code: r.status, stderr: r.stderr };
  };
  const built = join(dir, 'dist', 'cli', 'main.js');

  it('reports a bad setting before any build, builds once, skips the build when nothing changed, rebuilds a changed source', () => {
    const bad = prestart({ PORT: 'abc' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^parley serve: bad configuration:\n {2}PORT="abc": must be a whole number from 0 to 65535\n$/);
    assert.equal(existsSync(join(dir, 'dist')), false, 'nothing built');

    const first = prestart();
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /building the server and the web app/);
    assert.ok(existsSync(built) && existsSync(join(dir, 'web', 'dist', 'index.html')), 'the server and the web app are built');

    const builtAt = statSync(built).mtimeMs;
    const second = prestart();
    assert.deepEqual(second, { code: 0, stderr: '' }, 'nothing said, nothing built');
    assert.equal(statSync(built).mtimeMs, builtAt);

    appendFileSync(join(dir, 'src', 'cli', 'main.ts'), '\n// changed after the first build\n');
    const third = prestart();
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /building/);
    assert.match(readFileSync(built, 'utf8'), /changed after the first build/);
  });
});

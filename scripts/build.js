#!/usr/bin/env node
/**
 * Builds the server (TypeScript to dist/) and the web app (Vite to web/dist/).
 *
 *   node scripts/build.js                   always (npm run build)
 *   node scripts/build.js --if-changed      only when a source changed since the last build (npm install)
 *   node scripts/build.js --if-changed --check-settings
 *                                           the same, but first checks parley serve's settings from the
 *                                           environment, so that a bad one is reported at once and not
 *                                           after the build (npm start)
 *
 * "Changed" compares a fingerprint of the sources (each file's path, size and modification time) with
 * the one the last successful build started from, kept in dist/.sources; a build is also due when its
 * output is missing.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** What the build reads: a change to any of these makes the next start build again. */
const SOURCES = ['src', 'web', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];
/** Never sources: the web app's own output. */
const SKIPPED = new Set([join(root, 'web', 'dist'), join(root, 'web', 'node_modules')]);
/** What the build writes; missing, the build is due whatever the fingerprint says. */
const OUTPUTS = ['dist/cli/main.js', 'web/dist/index.html'];
const FINGERPRINT_FILE = join(root, 'dist', '.sources');

function listFiles(path, into) {
  if (SKIPPED.has(path) || !existsSync(path)) return into;
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const name of readdirSync(path).sort()) listFiles(join(path, name), into);
  } else {
    into.push(`${relative(root, path)} ${stat.size} ${stat.mtimeMs}`);
  }
  return into;
}

function fingerprint() {
  const files = SOURCES.flatMap((s) => listFiles(join(root, s), []));
  return createHash('sha256').update(files.join('\n')).digest('hex');
}

function upToDate(current) {
  if (!OUTPUTS.every((o) => existsSync(join(root, o)))) return false;
  return existsSync(FINGERPRINT_FILE) && readFileSync(FINGERPRINT_FILE, 'utf8') === current;
}

/** The settings in the environment, checked by the server's own code (from the sources: the build is stale). */
async function checkSettings() {
  const { tsImport } = await import('tsx/esm/api');
  const { ConfigError, loadConfig } = await tsImport('../src/server/config.ts', import.meta.url);
  try {
    loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`parley serve: ${err.message}`);
    process.exit(2);
  }
}

function run(command, args) {
  // As `npm run` does: the project's own tools first.
  const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}` };
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const args = process.argv.slice(2);
const ifChanged = args.includes('--if-changed');
const current = fingerprint();
if (ifChanged && upToDate(current)) process.exit(0);
if (args.includes('--check-settings')) await checkSettings();
if (ifChanged) console.error('parley: the sources changed since the last build: building the server and the web app…');
run('tsc', ['-p', 'tsconfig.build.json']);
run('vite', ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
// The fingerprint taken before the build: a source saved during the build makes the next one due.
writeFileSync(FINGERPRINT_FILE, current);

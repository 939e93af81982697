/** The versions of the services the bench starts from the system's packages, for the report. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { postgresBinDir } from '../test/helpers/postgres.js';
import { NGINX } from '../test/helpers/nginx.js';

/** The first match of `pattern` in what `command` prints, or "?" when it cannot be run. */
function version(command: string, args: string[], pattern: RegExp): string {
  try {
    const out = spawnSync(command, args, { encoding: 'utf8' });
    return pattern.exec(`${out.stdout}${out.stderr}`)?.[1] ?? '?';
  } catch {
    return '?';
  }
}

export function serviceVersions(): string {
  let postgres = '?';
  try {
    postgres = version(join(postgresBinDir(), 'postgres'), ['--version'], /(\d+\.\d+)/);
  } catch {
    // not installed: the scenarios that need it will say so
  }
  const redis = version(process.env.REDIS_SERVER ?? 'redis-server', ['--version'], /v=(\S+)/);
  const nginx = NGINX ? version(NGINX, ['-v'], /nginx\/(\S+)/) : '?';
  return `PostgreSQL ${postgres} (fsync on), Redis ${redis}, nginx ${nginx}: the system's packages, started by the bench on free ports`;
}

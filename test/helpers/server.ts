/**
 * Starts the real Parley server for a test: in this process (startTestServer) or as a child
 * process that can be killed (spawnServer). Both listen on 127.0.0.1 on a free port with a fresh
 * data dir, and stop when the test calls close()/kill().
 *
 * With PARLEY_TEST_BACKEND=postgres, every server that is not given a DATABASE_URL runs on
 * PostgreSQL and Redis instead of SQLite and the in-process broker: a database of its own on one
 * throw-away PostgreSQL of the test process, and a Redis of its own (pub/sub channels are shared
 * by every database of a Redis). A server started again on the same data dir gets the same ones,
 * as a node restarted on its machine would. `npm test` runs the delivery and protocol files so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { loadConfig, settings as settingSpecs, type SettingName } from '../../src/server/config.js';
import { startParley } from '../../src/server/app.js';
import { freePort } from './free-port.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { startRedis } from './redis.js';
import { watchProcess } from './watchdog.js';

export { freePort };

export type Settings = Partial<Record<SettingName, string>>;

export interface TestServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** ws://127.0.0.1:PORT */
  wsUrl: string;
  port: number;
  dataDir: string;
  close(): Promise<void>;
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'parley-test-'));
}

/** Which store and broker test servers use: 'sqlite' (the default: SQLite, in-process) or 'postgres' (PostgreSQL + Redis). */
export const testBackend = process.env.PARLEY_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

let postgres: Promise<PostgresServer> | undefined;
const backends = new Map<string, Promise<Settings>>();

/** DATABASE_URL and REDIS_URL for a server on `dataDir`, in the postgres mode and unless it has its own. */
function backendSettings(dataDir: string, settings: Settings): Promise<Settings> {
  if (testBackend === 'sqlite' || settings.DATABASE_URL !== undefined) return Promise.resolve({});
  let found = backends.get(dataDir);
  if (!found) {
    found = (async () => {
      const database = await (postgres ??= startPostgres()).then((pg) => pg.createDatabase());
      const redis = await startRedis();
      return { DATABASE_URL: database.url, REDIS_URL: redis.url };
    })();
    backends.set(dataDir, found);
  }
  return found;
}

export async function startTestServer(settings: Settings = {}): Promise<TestServer> {
  const dataDir = settings.DATA_DIR ?? tempDataDir();
  const backend = await backendSettings(dataDir, settings);
  const config = loadConfig({}, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...backend, ...settings, DATA_DIR: dataDir });
  const server = await startParley(config);
  return {
    url: `http://127.0.0.1:${server.port}`,
    wsUrl: `ws://127.0.0.1:${server.port}`,
    port: server.port,
    dataDir,
    close: () => server.close(),
  };
}

export interface SpawnedServer {
  url: string;
  wsUrl: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Sends the signal and waits for the process to exit; resolves its exit code (null when killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** The command that runs `parley` (`serve` is added); default: from the sources with tsx. */
  command?: string[];
  /** Where its stdout and stderr go: this process's (default), nowhere, or line by line to a function. */
  output?: 'inherit' | 'ignore' | ((line: string) => void);
  /** Pass on Parley settings from this process's environment (default true); `settings` win anyway. */
  inheritSettings?: boolean;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fromSources = [process.execPath, '--import', 'tsx', join(repoRoot, 'src/cli/main.ts')];

/**
 * Runs `parley serve` as its own process and waits until /readyz answers 200. A watchdog kills it
 * if this process dies first.
 */
export async function spawnServer(settings: Settings & { DATA_DIR: string; PORT: string }, options: SpawnOptions = {}): Promise<SpawnedServer> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.inheritSettings === false) for (const name of Object.keys(settingSpecs)) delete env[name];
  Object.assign(env, { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...(await backendSettings(settings.DATA_DIR, settings)), ...settings });
  const [command, ...args] = options.command ?? fromSources;
  const output = options.output ?? 'inherit';
  const child = spawn(command!, [...args, 'serve'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', typeof output === 'function' ? 'pipe' : output, typeof output === 'function' ? 'pipe' : output],
    // Its own process group: a Ctrl-C in a terminal reaches the process that started it, which
    // stops it in its turn (the watchdog stops it if that process dies instead).
    detached: true,
  });
  if (typeof output === 'function') {
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', output);
  }
  const watchdog = watchProcess(child.pid);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      watchdog.disarm();
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${settings.PORT}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`parley serve exited with ${child.exitCode ?? child.signalCode}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('parley serve did not become ready in 20 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    wsUrl: `ws://127.0.0.1:${settings.PORT}`,
    port: Number(settings.PORT),
    dataDir: settings.DATA_DIR,
    child,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

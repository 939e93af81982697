/**
 * A throw-away PostgreSQL server for tests, benches and local scripts: initdb in a temp dir, the
 * server on 127.0.0.1 on a free port (its unix socket in the temp dir too), a fresh empty database
 * per caller, and everything stopped and removed by close(). A watchdog process stops the server
 * and removes the dir if this process dies without calling close() (a killed test runner).
 *
 * PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the `postgres` user
 * (runuser), on a dir that user owns. Uses the newest /usr/lib/postgresql/N/bin, or PG_BIN.
 * Nothing here depends on node:test.
 */
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { freePort } from './free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PostgresServer {
  /** Always 127.0.0.1. */
  host: string;
  /** The TCP port; the same across stop() and start(). */
  port: number;
  /** The temp dir that holds the data dir, the socket and the log. */
  dir: string;
  /** postgres://postgres@127.0.0.1:PORT/<database> */
  url(database: string): string;
  /**
   * An empty database with a unique name. `drop` removes it in the background (closing its
   * connections); close() removes everything anyway.
   */
  createDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }>;
  /** Stops the server (fast shutdown: open connections are cut); start() brings it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /**
   * Freezes the server and every process of it (SIGSTOP): connections stay open and nothing
   * answers, as when the network to it is cut. resume() thaws it.
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** The process id of the server's postmaster, the parent of every other process of it (the bench reads their CPU time). */
  pid(): Promise<number>;
  /** Stops the server and removes its dir. */
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** A fixed port (a local cluster script); default a free one. */
  port?: number;
  /**
   * Flush writes to disk (default false: a throw-away database need not survive a power cut, and
   * commits and CREATE DATABASE are much faster without). A benchmark turns it on.
   */
  fsync?: boolean;
}

/** The newest installed PostgreSQL's bin dir; throws, saying what to install, when there is none. */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).map(Number).sort((a, b) => b - a) : [];
  const dir = versions.map((v) => join(root, String(v), 'bin')).find((d) => existsSync(join(d, 'pg_ctl')));
  if (!dir) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/pg_ctl): apt-get install postgresql, or set PG_BIN');
  return dir;
}

const asRoot = process.getuid?.() === 0;

/** argv that runs a PostgreSQL program as the user that owns the data dir. */
function asOwner(bin: string, program: string, args: string[]): [string, string[]] {
  const path = join(bin, program);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

/** Starts a PostgreSQL server of its own for this process. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'parley-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgCtl = (...args: string[]) => {
    const [cmd, argv] = asOwner(bin, 'pg_ctl', ['-D', data, ...args]);
    return run(cmd, argv);
  };
  const watchdog = startWatchdog(bin, data, dir);
  const host = '127.0.0.1';
  let port = options.port ?? 0;
  try {
    const [cmd, argv] = asOwner(bin, 'initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    await run(cmd, argv);
    // A port found free may be taken before the server binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      if (!options.port) port = await freePort();
      try {
        await startServer(pgCtl, { log, socketDir: dir, host, port, fsync: options.fsync ?? false });
        break;
      } catch (err) {
        if (options.port || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    const serverLog = await readFile(log, 'utf8').catch(() => '');
    await pgCtl('stop', '-m', 'immediate', '-w').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    watchdog.kill();
    throw new Error(`could not start PostgreSQL: ${(err as Error).message}\n${serverLog}`, { cause: err });
  }

  const url = (database: string) => `postgres://postgres@${host}:${port}/${database}`;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url('postgres') });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  let databases = 0;
  const create = async (): Promise<string> => {
    const name = `parley_test_${++databases}`;
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    return name;
  };
  // The next database is made while the current test runs (CREATE DATABASE copies a template: a
  // few hundred ms), and drops run in the background; stop() and close() wait for both.
  let spare: Promise<string | undefined> | undefined;
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    const forget = () => pending.delete(p);
    p.then(forget, forget);
    return p;
  };
  const settle = () => Promise.allSettled([...pending]);
  let closed = false;
  return {
    host,
    port,
    dir,
    url,
    async createDatabase() {
      const name = (await spare) ?? (await create());
      spare = track(create().catch(() => undefined));
      return {
        name,
        url: url(name),
        drop: async () => {
          track(admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))).catch(() => undefined);
        },
      };
    },
    async stop() {
      await settle();
      spare = undefined;
      await pgCtl('stop', '-m', 'fast', '-w');
    },
    async start() {
      await startServer(pgCtl, { log, socketDir: dir, host, port, fsync: options.fsync ?? false });
    },
    pid: () => postmasterPid(data),
    pause: () => signalServer(data, 'SIGSTOP'),
    resume: () => signalServer(data, 'SIGCONT'),
    async close() {
      if (closed) return;
      closed = true;
      await settle();
      await pgCtl('stop', '-m', 'immediate', '-w').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      watchdog.kill();
    },
  };
}

function startServer(
  pgCtl: (...args: string[]) => Promise<unknown>,
  at: { log: string; socketDir: string; host: string; port: number; fsync: boolean },
): Promise<unknown> {
  const settings = `-c listen_addresses=${at.host} -p ${at.port} -k ${at.socketDir} -c fsync=${at.fsync ? 'on' : 'off'}`;
  return pgCtl('start', '-w', '-t', '30', '-l', at.log, '-o', settings);
}

/** The postmaster's process id: the first line of postmaster.pid. */
async function postmasterPid(data: string): Promise<number> {
  return Number((await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** Sends `signal` to the server and its children. */
async function signalServer(data: string, signal: NodeJS.Signals): Promise<void> {
  const postmaster = await postmasterPid(data);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its last ')'.
    const stat = await readFile(join('/proc', entry, 'stat'), 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === postmaster) children.push(Number(entry));
  }
  // The postmaster first when freezing (no new children), last when thawing.
  const pids = signal === 'SIGSTOP' ? [postmaster, ...children] : [...children, postmaster];
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // a backend that ended meanwhile
    }
  }
}

/**
 * A detached shell that waits for this process to end and then stops the server and removes its
 * dir; close() kills it (by its pid) once it has done that itself.
 */
function startWatchdog(bin: string, data: string, dir: string): { kill(): void } {
  const [cmd, argv] = asOwner(bin, 'pg_ctl', ['-D', data, 'stop', '-m', 'immediate', '-w']);
  const script = 'while kill -0 "$PARENT" 2>/dev/null; do sleep 1; done; "$@" >/dev/null 2>&1; rm -rf "$DIR"';
  const child = spawn('sh', ['-c', script, 'watchdog', cmd, ...argv], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PARENT: String(process.pid), DIR: dir },
  });
  child.unref();
  return {
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Starts each server under test in its own process, the way a user runs it, and stops it.
 * Every process is started through `sh -c 'ulimit -n <hard limit>; exec …'` so it may open as
 * many sockets as the machine allows; `exec` keeps the process id, which /proc readings need.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { settings } from '../src/server/config.js';
import type { ServerKind } from './types.js';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

export const serverLabel: Record<ServerKind, string> = { ws: 'ws', socketio: 'socket.io', parley: 'Parley' };

export type ParleyMode = 'dist' | 'source';

export interface ServerOptions {
  parley: ParleyMode;
  maxConnections: number;
  /** write a V8 CPU profile of the server into this folder when it stops */
  cpuProfileDir?: string;
  /** extra node flags for the server processes (diagnostics, e.g. --max-semi-space-size=2) */
  nodeFlags?: string[];
  /** start the server's inspector on this port (the idle scenario forces a full GC through it) */
  inspectPort?: number;
  /** a peer's program instead of the one-node peer of its kind (e.g. bench/peers/socketio-redis-server.ts) */
  peerScript?: string;
  /** more environment for the server (a peer node's REDIS_URL, PEER_SECRET, PEER_NODE) */
  env?: Record<string, string>;
}

export interface RunningServer {
  kind: ServerKind;
  pid: number;
  host: string;
  port: number;
  /** the last lines the server wrote */
  logTail(): string;
  stop(): Promise<void>;
}

/** A shell script that raises the soft limit of open files to the hard limit and runs "$0" "$@" in its place. */
export const WITH_FILE_LIMIT = ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"'];

/** Runs a command in a shell that first raises the soft limit of open files to the hard limit. */
export function spawnWithFileLimit(command: string, args: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  return spawn(WITH_FILE_LIMIT[0]!, [...WITH_FILE_LIMIT.slice(1), command, ...args], options);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The node flags Parley is deployed with: those of `npm start` (`node <flags> bin/parley.js serve`,
 * the same as deploy/parley.service), so that the bench runs it as a user does.
 */
export const parleyNodeFlags: string[] = (() => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts?: { start?: unknown } };
  const start = String(pkg.scripts?.start ?? '');
  const match = /^node((?: --[\w-]+(?:=\S+)?)*) bin\/parley\.js serve$/.exec(start);
  if (!match) throw new Error(`package.json "start" is not \`node [--flag…] bin/parley.js serve\`: ${start}`);
  return match[1]!.trim().split(' ').filter((f) => f !== '');
})();

/** Parley's command line as the bench (and `npm start`) runs it from dist/. */
export const parleyCommandLine = ['node', ...parleyNodeFlags, 'bin/parley.js serve'].join(' ');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * How Parley will be started: from dist/ (as `npm start` does) when it is at least as new
 * as src/, compiling it first with tsc if it is missing or stale; from the sources with tsx if
 * that is asked for or the compile produced no CLI.
 */
export function prepareParley(wanted: ParleyMode | 'auto'): { mode: ParleyMode; note: string } {
  if (wanted === 'source') {
    return { mode: 'source', note: `Parley run from the sources (node ${[...parleyNodeFlags, ''].join(' ')}--import tsx src/cli/main.ts serve)` };
  }
  const main = join(repoRoot, 'dist/cli/main.js');
  const fresh = () => existsSync(main) && statSync(main).mtimeMs >= newestMtime(join(repoRoot, 'src'));
  if (!fresh()) {
    process.stderr.write('bench: dist/ is missing or older than src/; compiling with tsc -p tsconfig.build.json\n');
    const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (tsc.status !== 0) process.stderr.write('bench: tsc reported errors (the emitted files are used if present)\n');
  }
  if (existsSync(main)) return { mode: 'dist', note: `Parley run as built: ${parleyCommandLine}` };
  if (wanted === 'dist') throw new Error('dist/cli/main.js is missing after the build');
  return { mode: 'source', note: 'dist/ could not be built; Parley run from the sources with tsx' };
}

function diagnosticFlags(opts: ServerOptions): string[] {
  return [
    ...(opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : []),
    ...(opts.inspectPort ? [`--inspect=127.0.0.1:${opts.inspectPort}`] : []),
    ...(opts.nodeFlags ?? []),
  ];
}

/** Node's arguments that run `parley` (without its `serve`) as the bench runs it. */
export function parleyArgs(opts: ServerOptions): string[] {
  const flags = [...parleyNodeFlags, ...diagnosticFlags(opts)];
  return opts.parley === 'dist' ? [...flags, join(repoRoot, 'bin/parley.js')] : [...flags, '--import', 'tsx', join(repoRoot, 'src/cli/main.ts')];
}

function command(kind: ServerKind, opts: ServerOptions): string[] {
  switch (kind) {
    case 'ws':
      return [...diagnosticFlags(opts), '--import', 'tsx', join(repoRoot, opts.peerScript ?? 'bench/peers/ws-broadcast.ts')];
    case 'socketio':
      return [...diagnosticFlags(opts), '--import', 'tsx', join(repoRoot, opts.peerScript ?? 'bench/peers/socketio-server.ts')];
    case 'parley':
      return [...parleyArgs(opts), 'serve'];
  }
}

/** The environment of a server: ours, minus any Parley setting the caller's shell may carry. */
function environment(kind: ServerKind, port: number, dataDir: string, opts: ServerOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(settings)) delete env[name];
  delete env.NODE_OPTIONS;
  Object.assign(env, { PORT: String(port), HOST: '127.0.0.1' });
  if (kind === 'parley') {
    Object.assign(env, {
      DATA_DIR: dataDir,
      RATE_LIMIT: '0',
      MAX_CONNECTIONS: String(opts.maxConnections),
      LOG_LEVEL: 'warn',
    });
  }
  return Object.assign(env, opts.env);
}

export async function startServer(kind: ServerKind, opts: ServerOptions): Promise<RunningServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${kind}-`));
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'a');
  const child = spawnWithFileLimit(process.execPath, command(kind, opts), {
    cwd: repoRoot,
    env: environment(kind, port, join(dir, 'data'), opts),
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const logTail = () => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.cpuProfileDir ? 15_000 : 3_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const health = kind === 'parley' ? '/readyz' : '/healthz';
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = logTail();
      await stop();
      throw new Error(`${serverLabel[kind]} exited at start (${child.exitCode ?? child.signalCode}):\n${tail}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}${health}`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const tail = logTail();
      await stop();
      throw new Error(`${serverLabel[kind]} did not become ready in 30 s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { kind, pid: child.pid!, host: '127.0.0.1', port, logTail, stop };
}

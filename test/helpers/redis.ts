/**
 * A throw-away Redis for a test file, the bench or a local cluster: `redis-server` from the system
 * (scripts/test.sh installs Debian's), on 127.0.0.1 on a free port, keeping nothing on disk. It can
 * be stopped and started again on the same port, which loses everything, as a real restart of a
 * Redis without persistence does. A watchdog process kills it (and removes its folder) if the
 * process that started it dies without cleaning up. Nothing here depends on node:test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { watchProcess, type Watchdog } from './watchdog.js';

export interface TestRedis {
  port: number;
  /** redis://127.0.0.1:PORT */
  url: string;
  readonly running: boolean;
  /** Its process id while it runs (the bench reads its CPU time). */
  readonly pid: number | undefined;
  /** Stops the server (its data is gone); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it if it runs and removes its folder. */
  close(): Promise<void>;
}

const SERVER = process.env.REDIS_SERVER ?? 'redis-server';
/** How long a start may take before it is given up. */
const START_TIMEOUT_MS = 10_000;

/** Starts a Redis on a free port of 127.0.0.1. */
export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-redis-'));
  // Another process may take the port between freePort and the server's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const server = new RedisProcess(port, dir);
      await server.start();
      return server;
    } catch (err) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

class RedisProcess implements TestRedis {
  readonly url: string;
  #child: ChildProcess | undefined;
  #watchdog: Watchdog | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    if (this.#child) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    // Its own process group: a Ctrl-C in the terminal (of `npm run cluster`) goes to the process
    // that started it, which stops the nodes before Redis.
    const child = spawn(SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      const gone = () => {
        if (this.#child === child) this.#child = undefined;
        resolve();
      };
      child.once('close', gone);
      // Not started at all (no redis-server): there is no close to wait for.
      child.once('error', (err) => {
        output += String(err);
        gone();
      });
    });
    this.#watchdog = watchProcess(child.pid, { dir: this.dir });
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as Socket).unref();

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answersPing(this.port))) {
      if (this.#child !== child || Date.now() > deadline) {
        await this.stop();
        throw new Error(`redis-server on port ${this.port} did not start:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(killer);
      this.#child = undefined;
    }
    // The server is gone: the watchdog has nothing left to do (and must not kill a reused pid).
    this.#watchdog?.disarm();
    this.#watchdog = undefined;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a Redis answers PING on the port now. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * nginx for tests, the bench and a local cluster, run with deploy/nginx.conf itself: its upstream
 * filled in with the nodes' ports, its `listen` lines moved to 127.0.0.1 on free ports, and its
 * TLS lines given a test certificate or left out. Each nginx runs from a temp folder of its own, in
 * the foreground, and a watchdog stops it if the process that started it dies first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchProcess } from './watchdog.js';

/** The nginx binary (the NGINX environment variable, or Debian's), or undefined when there is none (`apt-get install nginx`). */
export const NGINX: string | undefined = (process.env.NGINX ? [process.env.NGINX] : ['/usr/sbin/nginx', '/usr/bin/nginx']).find(
  (p) => spawnSync(p, ['-v']).status === 0,
);

const DEPLOY_CONF = new URL('../../deploy/nginx.conf', import.meta.url);

export interface SiteOptions {
  /** Port of plain HTTP on 127.0.0.1: the config's `listen 80`. */
  port: number;
  /** Ports of the nodes on 127.0.0.1: the config's upstream, one `server` line each. */
  upstreams: number[];
  /** TLS ending at nginx: the config's `listen 443 ssl` and certificate lines. Without it they are left out. */
  tls?: { port: number; cert: string; key: string };
}

/** Replaces the one line that matches `pattern`; throws if deploy/nginx.conf has none or several. */
function replaceLine(conf: string, pattern: RegExp, replacement: (indent: string, match: RegExpExecArray) => string | undefined): string {
  const global = new RegExp(pattern.source, 'gm');
  const matches = [...conf.matchAll(global)];
  if (matches.length !== 1) throw new Error(`deploy/nginx.conf should have one line like ${pattern}, found ${matches.length}`);
  const match = matches[0] as RegExpExecArray;
  const line = replacement(match[1] ?? '', match);
  const end = match.index + match[0].length;
  return conf.slice(0, match.index) + (line === undefined ? '' : line) + conf.slice(line === undefined ? end + 1 : end);
}

/** deploy/nginx.conf as it would run in front of these nodes. */
export function deploySite(options: SiteOptions): string {
  if (options.upstreams.length === 0) throw new Error('nginx needs at least one node');
  let conf = readFileSync(DEPLOY_CONF, 'utf8');
  // The upstream's example lines become one line per node, with the example's parameters.
  const servers = [...conf.matchAll(/^([ \t]*)server 127\.0\.0\.1:\d+((?: [^;\n]*)?);$/gm)];
  if (servers.length === 0) throw new Error('deploy/nginx.conf has no `server 127.0.0.1:PORT …;` line in its upstream');
  const [first] = servers as [RegExpExecArray];
  const lines = options.upstreams.map((port) => `${first[1]}server 127.0.0.1:${port}${first[2]};`).join('\n');
  for (const server of servers.slice(1).reverse()) {
    conf = conf.slice(0, server.index) + conf.slice(server.index + server[0].length + 1);
  }
  conf = conf.slice(0, first.index) + lines + conf.slice(first.index + first[0].length);

  conf = replaceLine(conf, /^([ \t]*)listen 80;$/, (indent) => `${indent}listen 127.0.0.1:${options.port};`);
  const tls = options.tls;
  conf = replaceLine(conf, /^([ \t]*)listen 443 ssl;$/, (indent) => (tls ? `${indent}listen 127.0.0.1:${tls.port} ssl;` : undefined));
  conf = replaceLine(conf, /^([ \t]*)ssl_certificate \S+;$/, (indent) => (tls ? `${indent}ssl_certificate ${tls.cert};` : undefined));
  conf = replaceLine(conf, /^([ \t]*)ssl_certificate_key \S+;$/, (indent) => (tls ? `${indent}ssl_certificate_key ${tls.key};` : undefined));
  return conf;
}

export interface NginxOptions {
  /** Worker processes (default 1) and connections per worker (default 1024; a proxied WebSocket takes two). */
  workers?: number;
  workerConnections?: number;
  /** Open files per worker (`worker_rlimit_nofile`); default the limit nginx inherits from this process. */
  fileLimit?: number;
}

export interface RunningNginx {
  pid: number;
  /** The temp folder with nginx.conf and logs/error.log. */
  prefix: string;
  /** The last lines of nginx's error log. */
  errorLog(): string;
  /** Stops nginx (fast: open connections are cut), waits for it to exit, removes its folder. */
  stop(): Promise<void>;
}

/**
 * Runs nginx with `site` (from deploySite) in its http block and waits until `readyUrl` (an address
 * it serves, e.g. …/healthz) answers 200.
 */
export async function startNginx(site: string, readyUrl: string, options: NginxOptions = {}): Promise<RunningNginx> {
  if (!NGINX) throw new Error('nginx is not installed: apt-get install nginx');
  const prefix = mkdtempSync(join(tmpdir(), 'parley-nginx-'));
  // As root, nginx's workers run as another user, which must reach the temp folders in here.
  chmodSync(prefix, 0o755);
  mkdirSync(join(prefix, 'logs'));
  const log = join(prefix, 'logs', 'error.log');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => ` ${kind}_temp_path ${prefix}/${kind};\n`).join('');
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `worker_processes ${options.workers ?? 1};\npid ${prefix}/nginx.pid;\nerror_log ${log} warn;\n` +
      (options.fileLimit ? `worker_rlimit_nofile ${options.fileLimit};\n` : '') +
      `events { worker_connections ${options.workerConnections ?? 1024}; }\n` +
      `http {\n access_log off;\n${temp}${site}\n}\n`,
  );
  const child = spawn(NGINX, ['-p', prefix, '-e', log, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  // TERM: nginx's master stops its workers before it exits.
  const watchdog = watchProcess(child.pid, { signal: 'TERM', dir: prefix });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = () => {
    let text = stderr;
    try {
      text += readFileSync(log, 'utf8');
    } catch {
      // not written yet
    }
    return text.split('\n').slice(-20).join('\n');
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    watchdog.disarm();
    rmSync(prefix, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = errorLog();
      await stop();
      throw new Error(`nginx exited at start:\n${text}`);
    }
    try {
      if ((await fetch(readyUrl)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const text = errorLog();
      await stop();
      throw new Error(`nginx did not answer ${readyUrl} with 200 within 10 s:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, prefix, errorLog, stop };
}

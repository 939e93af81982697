/**
 * What the bench measures, started the way a user runs it and stopped again: one server process
 * (scenarios 1-4), one Parley node on PostgreSQL + Redis (`parley-pg`, scenarios 1 and 4), or two
 * nodes (scenarios 5-7): Parley on PostgreSQL + Redis through the cluster harness
 * (test/helpers/cluster.ts: Debian's PostgreSQL and Redis on free ports, nginx running
 * deploy/nginx.conf), and socket.io with its Redis adapter on Redis from the same helpers, behind
 * the same nginx configuration in scenario 7. Each node, PostgreSQL, Redis and nginx run in
 * processes of their own; the deployment names them so the load can read each one's CPU.
 */
import { randomBytes } from 'node:crypto';
import { startCluster } from '../test/helpers/cluster.js';
import { deploySite, startNginx, type NginxOptions } from '../test/helpers/nginx.js';
import { startRedis } from '../test/helpers/redis.js';
import { freePort, parleyArgs, serverLabel, startServer, WITH_FILE_LIMIT, type RunningServer, type ServerOptions } from './servers.js';
import type { Contender, Endpoint, NamedProcess, ScenarioName, ServerKind } from './types.js';

export interface Deployment {
  /** the dialect its clients speak */
  kind: ServerKind;
  nodes: Endpoint[];
  /** nginx in front of the nodes, when the scenario goes through it */
  proxy?: { host: string; port: number };
  /** every process whose CPU is reported, the nodes first */
  processes: NamedProcess[];
  /** the last lines the nodes wrote */
  logTail(): string;
  stop(): Promise<void>;
}

/** Scenarios that run on two nodes; scenario 7 goes through nginx. */
export const SEVERAL_NODES: readonly ScenarioName[] = ['nodes-fanout', 'nodes-rooms', 'node-death'];
const NODES = 2;

export const contenderKind: Record<Contender, ServerKind> = { ws: 'ws', socketio: 'socketio', parley: 'parley', 'parley-pg': 'parley' };

/** How a contender is named in progress lines and checks: in scenarios 5-7 each is two nodes. */
export function contenderLabel(contender: Contender, scenario?: ScenarioName): string {
  if (contender === 'parley-pg') return 'Parley (PostgreSQL + Redis)';
  if (scenario && SEVERAL_NODES.includes(scenario)) return contender === 'parley' ? 'Parley (PostgreSQL + Redis)' : 'socket.io (Redis adapter)';
  return serverLabel[contender];
}

export async function startDeployment(contender: Contender, scenario: ScenarioName, opts: ServerOptions): Promise<Deployment> {
  const several = SEVERAL_NODES.includes(scenario);
  const proxied = scenario === 'node-death';
  if (contender === 'parley-pg' || (contender === 'parley' && several)) return startParleyCluster(several ? NODES : 1, proxied, opts);
  if (contender === 'socketio' && several) return startSocketioCluster(NODES, proxied, opts);
  return single(await startServer(contenderKind[contender], opts));
}

function single(server: RunningServer): Deployment {
  return {
    kind: server.kind,
    nodes: [{ host: server.host, port: server.port, pid: server.pid }],
    processes: [{ name: serverLabel[server.kind], pid: server.pid }],
    logTail: () => server.logTail(),
    stop: () => server.stop(),
  };
}

/** nginx's limits for a deployment that may hold `connections` WebSockets (each is two sockets in nginx). */
function nginxOptions(connections: number): NginxOptions {
  const workerConnections = 2 * connections + 1024;
  return { workerConnections, fileLimit: workerConnections + 1024 };
}

/** The nodes' last lines, kept as they come. */
function logKeeper(): { line(node: string, text: string): void; tail(): string } {
  const lines: string[] = [];
  return {
    line(node, text) {
      lines.push(`${node}: ${text}`);
      if (lines.length > 40) lines.shift();
    },
    tail: () => lines.join('\n'),
  };
}

async function startParleyCluster(nodes: number, proxied: boolean, opts: ServerOptions): Promise<Deployment> {
  const log = logKeeper();
  const cluster = await startCluster({
    nodes,
    // The shell raises the open-file limit, as for every server of the bench, and execs node (same pid).
    command: [...WITH_FILE_LIMIT, process.execPath, ...parleyArgs(opts)],
    output: (node, line) => log.line(node, line),
    settings: { RATE_LIMIT: '0', MAX_CONNECTIONS: String(opts.maxConnections), LOG_LEVEL: 'warn' },
    nginx: nginxOptions(opts.maxConnections),
    // A benchmark stores for real: commits are flushed to disk, as a deployed PostgreSQL does.
    postgres: { fsync: true },
  });
  try {
    const nodeEndpoints = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port, pid: n.pid! }));
    const processes: NamedProcess[] = [
      ...cluster.nodes.map((n, i) => ({ name: nodes === 1 ? 'Parley' : `node ${i + 1}`, pid: n.pid! })),
      { name: 'PostgreSQL', pid: await cluster.postgres.pid() },
      { name: 'Redis', pid: cluster.redis.pid! },
    ];
    // The harness always starts nginx; it is in the way (and its CPU shown) only where the clients go through it.
    if (proxied) processes.push({ name: 'nginx', pid: cluster.nginx.pid });
    return {
      kind: 'parley',
      nodes: nodeEndpoints,
      ...(proxied ? { proxy: { host: '127.0.0.1', port: cluster.port } } : {}),
      processes,
      logTail: () => log.tail(),
      stop: () => cluster.close(),
    };
  } catch (err) {
    await cluster.close();
    throw err;
  }
}

/** deploy/nginx.conf's WebSocket location, repeated for socket.io's path. */
export function socketioSite(site: string): string {
  const block = /^([ \t]*)location \/ws\/ \{\n[\s\S]*?^\1\}\n/m.exec(site);
  if (!block) throw new Error('deploy/nginx.conf has no `location /ws/ { … }` block to proxy socket.io through');
  const copy = block[0].replace('location /ws/ {', 'location /socket.io/ {');
  return site.slice(0, block.index) + copy + site.slice(block.index);
}

async function startSocketioCluster(nodes: number, proxied: boolean, opts: ServerOptions): Promise<Deployment> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const redis = await startRedis();
    stops.push(() => redis.close());
    const env = { REDIS_URL: redis.url, PEER_SECRET: randomBytes(32).toString('base64url') };
    const servers: RunningServer[] = [];
    for (let i = 1; i <= nodes; i++) {
      const server = await startServer('socketio', { ...opts, peerScript: 'bench/peers/socketio-redis-server.ts', env: { ...env, PEER_NODE: String(i) } });
      servers.push(server);
      stops.push(() => server.stop());
    }
    const processes: NamedProcess[] = [...servers.map((s, i) => ({ name: `node ${i + 1}`, pid: s.pid })), { name: 'Redis', pid: redis.pid! }];
    let proxy: Deployment['proxy'];
    if (proxied) {
      const port = await freePort();
      const site = socketioSite(deploySite({ port, upstreams: servers.map((s) => s.port) }));
      const nginx = await startNginx(site, `http://127.0.0.1:${port}/healthz`, nginxOptions(opts.maxConnections));
      stops.push(() => nginx.stop());
      processes.push({ name: 'nginx', pid: nginx.pid });
      proxy = { host: '127.0.0.1', port };
    }
    return {
      kind: 'socketio',
      nodes: servers.map((s) => ({ host: s.host, port: s.port, pid: s.pid })),
      ...(proxy ? { proxy } : {}),
      processes,
      logTail: () => servers.map((s, i) => `node ${i + 1}:\n${s.logTail()}`).join('\n'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

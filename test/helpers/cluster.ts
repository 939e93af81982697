/**
 * A local Parley cluster for tests, the bench and `npm run cluster`: a throw-away PostgreSQL and
 * Redis, N `parley serve` nodes as child processes (127.0.0.1, free ports, one SESSION_SECRET,
 * TRUST_PROXY=127.0.0.1, NODE_ID node-1…node-N, a data dir each), and nginx in front, running
 * deploy/nginx.conf with the nodes as its upstream. A node can be killed and started again, Redis
 * and PostgreSQL stopped and started (`cluster.redis`, `cluster.postgres`). close() stops
 * everything; watchdogs do if this process dies first. Nothing here depends on node:test.
 *
 *   const cluster = await startCluster({ settings: { PRESENCE_TTL_MS: '3000' } });
 *   … clients on cluster.url (through nginx) or on cluster.node(2).url (one node directly) …
 *   await cluster.node(2).kill();   // SIGKILL
 *   await cluster.node(2).start();  // same port, data dir and NODE_ID
 *   await cluster.redis.stop(); …; await cluster.redis.start(); await cluster.waitUntilReady();
 *   await cluster.postgres.stop(); …; await cluster.postgres.start(); await cluster.waitUntilReady();
 *   await cluster.close();
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deploySite, startNginx, type NginxOptions, type RunningNginx } from './nginx.js';
import { startPostgres, type PostgresOptions, type PostgresServer } from './postgres.js';
import { startRedis, type TestRedis } from './redis.js';
import { freePort, spawnServer, type Settings, type SpawnedServer } from './server.js';
import { watchFolder } from './watchdog.js';

export interface ClusterOptions {
  /** How many nodes (default 3). */
  nodes?: number;
  /** nginx's port on 127.0.0.1 (default a free one). */
  port?: number;
  /** Settings of every node, on top of the cluster's own (which they may override, e.g. LOG_LEVEL). */
  settings?: Settings;
  /** The command that runs `parley` on a node (`serve` is added); default: from the sources with tsx. */
  command?: string[];
  /** Where the nodes' output goes: this process's stdout and stderr (default), nowhere, or line by line. */
  output?: 'inherit' | 'ignore' | ((node: string, line: string) => void);
  /** Told whenever a node's process ends, asked to or not: its exit code, or the signal that ended it. */
  onExit?: (node: string, how: number | NodeJS.Signals | null) => void;
  nginx?: NginxOptions;
  postgres?: PostgresOptions;
}

export interface ClusterNode {
  /** NODE_ID: node-1, node-2, … */
  readonly id: string;
  readonly port: number;
  /** The node itself, not through nginx: http://127.0.0.1:PORT and ws://127.0.0.1:PORT. */
  readonly url: string;
  readonly wsUrl: string;
  readonly dataDir: string;
  readonly running: boolean;
  /** Its process id while it runs. */
  readonly pid: number | undefined;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop); resolves once the process is gone. */
  stop(): Promise<void>;
  /** Starts it again (same port, data dir and NODE_ID); resolves once its /readyz answers 200. */
  start(): Promise<void>;
  /** Its open WebSocket connections, from its /metrics. */
  connections(): Promise<number>;
}

export interface Cluster {
  /** nginx: http://127.0.0.1:PORT and ws://127.0.0.1:PORT. */
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly nodes: readonly ClusterNode[];
  /** A node by number (1…N) or NODE_ID. */
  node(which: number | string): ClusterNode;
  readonly postgres: PostgresServer;
  readonly databaseUrl: string;
  readonly redis: TestRedis;
  readonly sessionSecret: string;
  readonly nginx: RunningNginx;
  /** Open WebSocket connections per running node, by NODE_ID. */
  connections(): Promise<Record<string, number>>;
  /** The status of each running node's /readyz (200, or 503 while its PostgreSQL or Redis is away), by NODE_ID. */
  readiness(): Promise<Record<string, number>>;
  /** Resolves once every running node's /readyz answers 200 (after Redis or PostgreSQL came back); rejects after `timeoutMs`. */
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /** Stops nginx, the nodes (SIGTERM, SIGKILL after 10 s), Redis and PostgreSQL, and removes their folders. */
  close(): Promise<void>;
}

class Node implements ClusterNode {
  readonly url: string;
  readonly wsUrl: string;
  #server: SpawnedServer | undefined;

  constructor(
    readonly id: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly settings: Settings,
    private readonly options: ClusterOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}`;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  get pid(): number | undefined {
    return this.#server?.child.pid;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const output = this.options.output;
    const server = await spawnServer(
      { ...this.settings, DATA_DIR: this.dataDir, PORT: String(this.port) },
      {
        command: this.options.command,
        output: typeof output === 'function' ? (line) => output(this.id, line) : output,
        inheritSettings: false,
      },
    );
    this.#server = server;
    void server.exited.then((code) => {
      if (this.#server === server) this.#server = undefined;
      this.options.onExit?.(this.id, code ?? server.child.signalCode);
    });
  }

  async kill(): Promise<void> {
    await this.#server?.stop('SIGKILL');
    this.#server = undefined;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    const killer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
    await server.stop('SIGTERM');
    clearTimeout(killer);
    this.#server = undefined;
  }

  async connections(): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const match = /^parley_connections (\d+)$/m.exec(text);
    if (!match) throw new Error(`${this.id}: no parley_connections in /metrics`);
    return Number(match[1]);
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.nodes ?? 3;
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`a cluster needs at least one node, not ${count}`);
  const dir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
  const dirWatchdog = watchFolder(dir);
  const started: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
    started.length = 0;
    rmSync(dir, { recursive: true, force: true });
    dirWatchdog.disarm();
  };
  try {
    const [postgres, redis] = await Promise.all([startPostgres(options.postgres), startRedis()]);
    started.push(postgres, redis);
    const database = await postgres.createDatabase();
    const sessionSecret = randomBytes(32).toString('base64url');
    const settings: Settings = {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      SESSION_SECRET: sessionSecret,
      TRUST_PROXY: '127.0.0.1',
      ...options.settings,
    };
    const nodes: Node[] = [];
    for (let i = 1; i <= count; i++) {
      const dataDir = join(dir, `node-${i}`);
      mkdirSync(dataDir);
      nodes.push(new Node(`node-${i}`, await freePort(), dataDir, { ...settings, NODE_ID: `node-${i}` }, options));
    }
    started.push({ close: () => Promise.all(nodes.map((n) => n.stop())).then(() => undefined) });
    // All at once: PostgreSQL's migration lock lets one node create the tables while the others wait.
    await Promise.all(nodes.map((n) => n.start()));

    const port = options.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const nginx = await startNginx(deploySite({ port, upstreams: nodes.map((n) => n.port) }), `${url}/healthz`, options.nginx);
    started.push({ close: () => nginx.stop() });

    const readiness = async () => {
      const statuses: Record<string, number> = {};
      for (const node of nodes) {
        if (node.running) statuses[node.id] = await fetch(`${node.url}/readyz`).then((r) => r.status, () => 0);
      }
      return statuses;
    };
    let closing: Promise<void> | undefined;
    return {
      url,
      wsUrl: `ws://127.0.0.1:${port}`,
      port,
      nodes,
      node(which) {
        const node = nodes.find((n) => n.id === (typeof which === 'number' ? `node-${which}` : which));
        if (!node) throw new Error(`no node ${which} in this cluster (node-1 to node-${count})`);
        return node;
      },
      postgres,
      databaseUrl: database.url,
      redis,
      sessionSecret,
      nginx,
      async connections() {
        const counts: Record<string, number> = {};
        for (const node of nodes) if (node.running) counts[node.id] = await node.connections();
        return counts;
      },
      readiness,
      async waitUntilReady(timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const statuses = await readiness();
          if (Object.values(statuses).every((status) => status === 200)) return;
          if (Date.now() > deadline) throw new Error(`nodes not ready after ${timeoutMs} ms: ${JSON.stringify(statuses)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

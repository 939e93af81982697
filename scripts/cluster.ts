/**
 * `npm run cluster`: a local Parley cluster from Debian's packages, to try several nodes by hand.
 * PostgreSQL, Redis, N nodes (`parley serve` as built, like `npm start`) and nginx in front with
 * deploy/nginx.conf, all on 127.0.0.1, all throw-away (test/helpers/cluster.ts). It prints the URL
 * to open and where each node is, then the nodes' logs, each line prefixed with its node; `kill 2`
 * on stdin SIGKILLs node-2, `start 2` starts it again. Ctrl-C or SIGTERM stops everything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { settings as settingSpecs, type SettingName } from '../src/server/config.js';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { NGINX } from '../test/helpers/nginx.js';
import { postgresBinDir } from '../test/helpers/postgres.js';

const USAGE = `usage: npm run cluster [-- --nodes N] [--port PORT] [--from-sources]

Starts PostgreSQL, Redis, N Parley nodes (default 3) and nginx in front of them on
http://127.0.0.1:PORT (default 8080), all on this machine and all thrown away at the end.
The nodes run the built Parley (bin/parley.js), built first if a source changed. --from-sources
runs them from src/ with tsx instead, without a build (the web app is served as last built).
Any other Parley setting in the environment goes to every node (GUESTS=off npm run cluster).
While it runs, type: kill N (SIGKILL node-N), start N (start it again), nodes, help.
Ctrl-C or SIGTERM stops everything.`;

const root = fileURLToPath(new URL('..', import.meta.url));
/** Settings the cluster sets itself on each node. */
const MANAGED = new Set<SettingName>(['PORT', 'HOST', 'DATA_DIR', 'DATABASE_URL', 'REDIS_URL', 'SESSION_SECRET', 'NODE_ID', 'TRUST_PROXY']);

function fail(message: string, code = 2): never {
  process.stderr.write(`npm run cluster: ${message}\n`);
  process.exit(code);
}

function parseFlags(): { nodes: number; port: number; fromSources: boolean } {
  let values;
  try {
    const options = { nodes: { type: 'string' }, port: { type: 'string' }, 'from-sources': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
    ({ values } = parseArgs({ options }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const whole = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) fail(`--${name}=${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
    return n;
  };
  return {
    nodes: whole('nodes', values.nodes, 3, 1, 16),
    port: whole('port', values.port, 8080, 1, 65535),
    fromSources: values['from-sources'] === true,
  };
}

/** The Debian packages the cluster needs that are not installed. */
function missingPackages(): string[] {
  const missing: string[] = [];
  try {
    if (!existsSync(join(postgresBinDir(), 'pg_ctl'))) missing.push('postgresql');
  } catch {
    missing.push('postgresql');
  }
  if (spawnSync(process.env.REDIS_SERVER ?? 'redis-server', ['--version']).status !== 0) missing.push('redis-server');
  if (!NGINX) missing.push('nginx');
  return missing;
}

/** Whether nginx could listen on the port. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** Parley settings from the environment for every node, with the cluster's log defaults. */
function nodeSettings(): Partial<Record<SettingName, string>> {
  const chosen: Partial<Record<SettingName, string>> = { LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' };
  for (const name of Object.keys(settingSpecs) as SettingName[]) {
    const value = process.env[name];
    if (value !== undefined && value !== '' && !MANAGED.has(name)) chosen[name] = value;
  }
  return chosen;
}

function showNodes(cluster: Cluster): string {
  const rows = cluster.nodes.map((n) => `  ${n.id.padEnd(10)} ${n.url.padEnd(24)} ${n.running ? `pid ${n.pid}` : 'stopped'}`);
  return [
    ...rows,
    `  ${'PostgreSQL'.padEnd(10)} ${cluster.databaseUrl}`,
    `  ${'Redis'.padEnd(10)} ${cluster.redis.url}`,
    `  ${'nginx'.padEnd(10)} ${cluster.url.padEnd(24)} pid ${cluster.nginx.pid} (deploy/nginx.conf, config in ${cluster.nginx.prefix})`,
  ].join('\n');
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const missing = missingPackages();
  if (missing.length > 0) {
    const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
    fail(
      `it needs PostgreSQL, Redis and nginx from Debian's packages, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing. Install them with:\n` +
        `  ${sudo}apt-get install ${missing.join(' ')}\n` +
        'The packages start services of their own (PostgreSQL on 5432, Redis on 6379, nginx on 80); the cluster\n' +
        `starts its own and does not use them (${sudo}service nginx stop, and so on, if you do not want them).`,
      1,
    );
  }
  if (!(await portIsFree(flags.port))) fail(`port ${flags.port} of 127.0.0.1 is in use: pick another with --port`, 1);
  if (!flags.fromSources) {
    // As `npm start` does: build the server and the web app if a source changed since the last build.
    const build = spawnSync(process.execPath, [join(root, 'scripts/build.js'), '--if-changed'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) fail('the build failed', 1);
  }

  process.stdout.write(`Starting PostgreSQL, Redis, ${flags.nodes} node${flags.nodes === 1 ? '' : 's'} and nginx…\n`);
  let stopping = false;
  const asked = new Set<string>();
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      nodes: flags.nodes,
      port: flags.port,
      settings: nodeSettings(),
      // undefined: the harness's default, from the sources with tsx.
      command: flags.fromSources ? undefined : [process.execPath, join(root, 'bin/parley.js')],
      output: (node, line) => process.stdout.write(`${node} │ ${line}\n`),
      onExit: (node, how) => {
        if (stopping || asked.delete(node)) return;
        process.stdout.write(`${node} exited (${how}); \`start ${node.slice('node-'.length)}\` starts it again\n`);
      },
    });
  } catch (err) {
    fail(`could not start the cluster: ${(err as Error).message}`, 1);
  }

  const stop = async (signal: string) => {
    if (stopping) {
      process.stdout.write('stopping at once (the watchdogs clean up)\n');
      process.exit(130);
    }
    stopping = true;
    process.stdout.write(`\n${signal}: stopping nginx, the nodes, Redis and PostgreSQL…\n`);
    await cluster.close();
    process.stdout.write('stopped; everything is removed\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // npm passes a SIGTERM of its own on to nobody: when it is gone (this process was handed to
  // another parent), stop as for a SIGTERM.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void stop('the parent process (npm) ended');
  }, 500).unref();

  process.stdout.write(
    `\nParley cluster ready: open ${cluster.url} (nginx, round robin over ${flags.nodes} node${flags.nodes === 1 ? '' : 's'})\n` +
      `${showNodes(cluster)}\n` +
      'Each node logs below, its lines prefixed with its name. Type `kill 2` to SIGKILL node-2 (its clients\n' +
      'reconnect to the others through nginx), `start 2` to start it again, `nodes`, `help`; Ctrl-C stops everything.\n\n',
  );

  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => void run(line.trim()));
  const run = async (line: string) => {
    const [command, arg] = line.split(/\s+/);
    if (!command) return;
    if (command === 'nodes') return void process.stdout.write(`${showNodes(cluster)}\n`);
    if (command === 'help') return void process.stdout.write(`${USAGE}\n`);
    if ((command === 'kill' || command === 'start') && arg !== undefined && /^\d+$/.test(arg)) {
      const node = cluster.nodes.find((n) => n.id === `node-${arg}`);
      if (!node) return void process.stdout.write(`no node-${arg}: the nodes are node-1 to node-${cluster.nodes.length}\n`);
      if (command === 'kill') {
        if (!node.running) return void process.stdout.write(`${node.id} is not running\n`);
        asked.add(node.id);
        await node.kill();
        process.stdout.write(`${node.id} killed (SIGKILL); its users leave the presence lists unless they reconnect\n`);
      } else {
        if (node.running) return void process.stdout.write(`${node.id} is running already\n`);
        try {
          await node.start();
          process.stdout.write(`${node.id} started again on ${node.url} (pid ${node.pid})\n`);
        } catch (err) {
          process.stdout.write(`${node.id} did not start: ${(err as Error).message}\n`);
        }
      }
      return;
    }
    process.stdout.write(`unknown command: ${line} (kill N, start N, nodes, help)\n`);
  };
}

await main();

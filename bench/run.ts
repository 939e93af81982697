/**
 * `npm run bench [-- options]`: runs the seven scenarios, one server after another (each in its own
 * processes, the load in another), prints tables of figures and ratios, and writes them with the
 * machine's description to docs/benchmarks.md. Scenarios 1-4: plain ws, socket.io and Parley on
 * one node (SQLite), and in 1 and 4 also one Parley node on PostgreSQL + Redis. Scenarios 5-7: two
 * socket.io nodes with the Redis adapter and two Parley nodes on PostgreSQL + Redis, started with
 * Debian's PostgreSQL, Redis and nginx on free ports (bench/deployments.ts).
 *
 *   --quick             everything scaled down (a smoke run; docs are not written unless --out)
 *   --runs=N            repeat the whole bench N times and report medians (default 1)
 *   --servers=a,b       any of ws, socketio, parley, parley-pg (default all; each runs in the scenarios it has)
 *   --scenarios=a,b     any of fanout, latency, idle, rooms, nodes-fanout, nodes-rooms, node-death, or 1-7 (default all)
 *   --parley=MODE       auto (default: dist/, compiled if stale), dist, or source (tsx)
 *   --out=PATH          where to write the Markdown report (default docs/benchmarks.md, full runs only)
 *   --no-write          print only
 *   --cpu-prof=DIR      write a V8 CPU profile of every server process into DIR
 *   --idle=N            idle connections in scenario 3 (default 10,000; up to the open-file limit)
 *   --json=PATH         also write every raw result as JSON
 *   --report-from=PATH  run nothing: write the report again from such a JSON (after editing bench/analysis.md)
 *   --cpu-prof-load=DIR a V8 CPU profile of every load process, to check that it is not the bottleneck
 *   --node-flags=F,G    extra node flags for every server process (a diagnostic; noted in the report)
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CONTENDERS, FULL, QUICK, SCENARIOS, timeoutMs, type Sizes } from './scenarios.js';
import { freePort, prepareParley, repoRoot, spawnWithFileLimit, type ParleyMode } from './servers.js';
import { contenderLabel, SEVERAL_NODES, startDeployment, type Deployment } from './deployments.js';
import { report, CONTENDER_ORDER, type Results } from './report.js';
import { serviceVersions } from './versions.js';
import type { Contender, Job, LoadReply, ScenarioName, ScenarioResult } from './types.js';

interface Options {
  quick: boolean;
  runs: number;
  servers: Contender[];
  scenarios: ScenarioName[];
  parley: ParleyMode | 'auto';
  out: string | undefined;
  cpuProfileDir: string | undefined;
  nodeFlags: string[];
  json: string | undefined;
  loadProfileDir: string | undefined;
  idle: number | undefined;
  reportFrom: string | undefined;
}

/** What a set of runs measured: everything the report is made from (and what --json keeps). */
interface Measured {
  machine: string[];
  sizes: Sizes;
  scenarios: ScenarioName[];
  runs: number;
  quick: boolean;
  notes: string[];
  command: string;
  results: Results;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { quick: false, runs: 1, servers: CONTENDER_ORDER, scenarios: SCENARIOS, parley: 'auto', out: undefined, cpuProfileDir: undefined, nodeFlags: [], json: undefined, loadProfileDir: undefined, idle: undefined, reportFrom: undefined };
  let write = true;
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const val = eq < 0 ? '' : arg.slice(eq + 1);
    const list = () => val.split(',').map((s) => s.trim()).filter(Boolean);
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--runs' && /^[1-9]\d*$/.test(val)) opts.runs = Number(val);
    else if (flag === '--servers' && list().every((s) => (CONTENDER_ORDER as string[]).includes(s))) opts.servers = CONTENDER_ORDER.filter((s) => list().includes(s));
    else if (flag === '--scenarios') {
      const names = list().map((s) => (/^[1-7]$/.test(s) ? SCENARIOS[Number(s) - 1]! : s));
      if (!names.every((s) => (SCENARIOS as string[]).includes(s))) usage(`unknown scenario in ${arg}`);
      opts.scenarios = SCENARIOS.filter((s) => names.includes(s));
    } else if (flag === '--parley' && ['auto', 'dist', 'source'].includes(val)) opts.parley = val as Options['parley'];
    else if (flag === '--out' && val) opts.out = resolve(val);
    else if (flag === '--no-write') write = false;
    else if (flag === '--cpu-prof' && val) opts.cpuProfileDir = resolve(val);
    else if (flag === '--node-flags' && val) opts.nodeFlags = list();
    else if (flag === '--json' && val) opts.json = resolve(val);
    else if (flag === '--idle' && /^[1-9]\d*$/.test(val)) opts.idle = Number(val);
    else if (flag === '--cpu-prof-load' && val) opts.loadProfileDir = resolve(val);
    else if (flag === '--report-from' && val) opts.reportFrom = resolve(val);
    else usage(`bad option ${arg}`);
  }
  if (write && opts.out === undefined && (!opts.quick || opts.reportFrom)) opts.out = join(repoRoot, 'docs/benchmarks.md');
  if (!write) opts.out = undefined;
  return opts;
}

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}\nsee the comment at the top of bench/run.ts for the options\n`);
  process.exit(2);
}

function machine(services: boolean): string[] {
  const cpu = cpus();
  return [
    `CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores`,
    `Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node.js ${process.version}, Linux ${release()}`,
    ...(services ? [serviceVersions()] : []),
    `Load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} (the machine is shared; other work adds noise)`,
    `Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
  ];
}

/** Processes to kill if the bench is interrupted. */
const live = new Set<{ stop(): Promise<void> | void }>();

function runLoad(job: Job, limitMs: number, profileDir: string | undefined): Promise<ScenarioResult> {
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child: ChildProcess = spawnWithFileLimit(process.execPath, [...profile, '--import', 'tsx', join(repoRoot, 'bench/load/main.ts')], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '', BENCH_JOB: JSON.stringify(job) },
  });
  const handle = { stop: () => void child.kill('SIGKILL') };
  live.add(handle);
  return new Promise<ScenarioResult>((resolvePromise, reject) => {
    let settled = false;
    const settle = (fn: () => void, graceMs: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // After its reply the load process exits by itself (writing its profile, if asked); a hung one is killed.
      if (child.exitCode === null && child.signalCode === null) {
        const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(kill);
          live.delete(handle);
        });
      } else live.delete(handle);
      fn();
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`load process timed out after ${limitMs / 1000} s`)), 0), limitMs);
    child.on('message', (reply: LoadReply) => settle(() => (reply.ok ? resolvePromise(reply.result) : reject(new Error(reply.error))), 15_000));
    child.on('exit', (code, signal) => settle(() => reject(new Error(`load process exited (${code ?? signal}) without a result`)), 0));
  });
}

/** Each process's CPU of a deployment of several, e.g. ` (node 1 95%, PostgreSQL 30%)`, from the `cpu:<name>` metrics. */
function processCpu(m: Record<string, number>): string {
  const parts = Object.entries(m)
    .filter(([k]) => k.startsWith('cpu:'))
    .map(([k, v]) => `${k.slice(4)} ${Number.isFinite(v) ? `${Math.round(v * 100)}%` : '–'}`);
  return parts.length > 1 ? ` (${parts.join(', ')})` : '';
}

function summary(scenario: ScenarioName, r: ScenarioResult): string {
  const m = r.metrics;
  const f = (v: number | undefined, d = 0) => (v === undefined || v === null ? '?' : v.toLocaleString('en', { maximumFractionDigits: d }));
  const load = `load CPU ${Math.round(r.loadCpu * 100)}%`;
  switch (scenario) {
    case 'fanout':
    case 'rooms':
    case 'nodes-fanout':
    case 'nodes-rooms':
      return `${f(m.deliveredPerSec)} delivered/s, server CPU ${Math.round((m.serverCpu ?? 0) * 100)}%${processCpu(m)}, ${load}`;
    case 'node-death':
      return (
        `${f(m.affected)} of ${f(m.clients)} clients cut; connected again p50 ${f(m.reconnectP50Ms)} ms, p99 ${f(m.reconnectP99Ms)} ms; ` +
        `back and caught up p50 ${f(m.backP50Ms)} ms, p99 ${f(m.backP99Ms)} ms, max ${f(m.backMaxMs)} ms (${f(m.notBack)} never); ` +
        `lost ${f(m.lost)}, duplicated ${f(m.duplicates)}, unacked ${f(m.unacked)} of ${f(m.sent)} sent; CPU over ${f(m.recoveryMs)} ms${processCpu(m)}, ${load}`
      );
    case 'latency':
      return `p50 ${f(m.p50Ms, 2)} ms, p99 ${f(m.p99Ms, 2)} ms, max ${f(m.maxMs, 1)} ms, ${load}`;
    case 'idle':
      return `${f(m.idleRssPerConnKB, 1)} KB/conn idle (${f(m.burstRssPerConnKB, 1)} after the burst, ${f(m.liveRssPerConnKB, 1)} after a full GC), ${f(m.connectPerSec)} connects/s, ${f(m.open)} open`;
  }
}

/** Runs every scenario the options ask for, `runs` times, and returns what was measured. */
async function measure(opts: Options): Promise<Measured> {
  const base = opts.quick ? QUICK : FULL;
  const sizes = opts.idle ? { ...base, idle: { ...base.idle, connections: opts.idle } } : base;
  const notes: string[] = [];
  const runsOf = (scenario: ScenarioName) => CONTENDERS[scenario].filter((c) => opts.servers.includes(c));
  const runsParley = opts.scenarios.some((s) => runsOf(s).some((c) => c === 'parley' || c === 'parley-pg'));
  const runsServices = opts.scenarios.some((s) => runsOf(s).includes('parley-pg') || (SEVERAL_NODES.includes(s) && runsOf(s).length > 0));
  let parleyMode: ParleyMode = 'source';
  if (runsParley) {
    const prepared = prepareParley(opts.parley);
    parleyMode = prepared.mode;
    notes.push(prepared.note + ', with RATE_LIMIT=0 and MAX_CONNECTIONS above the load, everything else at its default.');
  }
  for (const dir of [opts.cpuProfileDir, opts.loadProfileDir]) if (dir) mkdirSync(dir, { recursive: true });
  if (opts.nodeFlags.length > 0) notes.push(`Every server ran with the extra node flags ${opts.nodeFlags.join(' ')}.`);
  const maxConnections =
    Math.max(sizes.idle.connections, sizes.rooms.rooms * sizes.rooms.roomSize, sizes.fanout.receivers, sizes['node-death'].clients) + 1000;
  const results: Results = {};
  const machineLines = machine(runsServices);

  for (let run = 1; run <= opts.runs; run++) {
    for (const scenario of opts.scenarios) {
      for (const contender of runsOf(scenario)) {
        const name = contenderLabel(contender, scenario);
        const label = `[run ${run}/${opts.runs}] ${scenario} · ${name}`;
        const loadAverage = loadavg()[0]!;
        process.stderr.write(`${label} … (load average ${loadAverage.toFixed(2)})\n`);
        const slot = ((results[scenario] ??= {})[contender] ??= []);
        let server: Deployment | undefined;
        try {
          // Every server of the idle scenario gets an inspector, through which the load forces a full GC;
          // not while profiling: with an inspector open, Node wrote no profile of Parley's store thread.
          const inspectPort = scenario === 'idle' && !opts.cpuProfileDir ? await freePort() : undefined;
          server = await startDeployment(contender, scenario, { parley: parleyMode, maxConnections, cpuProfileDir: opts.cpuProfileDir, nodeFlags: opts.nodeFlags, inspectPort });
          live.add(server);
          const first = server.nodes[0]!;
          const job = {
            scenario,
            params: sizes[scenario],
            target: {
              kind: server.kind,
              host: first.host,
              port: first.port,
              pid: first.pid,
              inspectPort,
              nodes: server.nodes,
              ...(server.proxy ? { proxy: server.proxy } : {}),
              processes: server.processes,
            },
          } as Job;
          const result = await runLoad(job, timeoutMs(scenario, opts.quick), opts.loadProfileDir);
          result.loadAverage = loadAverage;
          slot.push(result);
          process.stderr.write(
            `${label}: ${summary(scenario, result)}${result.check && !result.check.passed ? ' — DELIVERY CHECK FAILED' : ''}` +
              `${result.setup ? ` (${result.setup})` : ''}\n`,
          );
          if (opts.cpuProfileDir && result.windowUs) {
            const [from, to] = result.windowUs;
            process.stderr.write(`${label}: measured window for bench/profile-summary.ts: --from=${from} --to=${to}\n`);
          }
          for (const note of result.notes) notes.push(`${scenario} · ${name}: ${note}`);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          slot.push(error);
          process.stderr.write(`${label}: ERROR ${error.message}\n${server ? server.logTail() : ''}\n`);
        } finally {
          if (server) {
            live.delete(server);
            await server.stop();
          }
        }
      }
    }
  }

  const args = process.argv.slice(2).join(' ');
  const command = `npm run bench${args ? ` -- ${args}` : ''}`;
  return { machine: machineLines, sizes, scenarios: opts.scenarios, runs: opts.runs, quick: opts.quick, notes, command, results };
}

/** A --json file read back: its errors were written as `{error}`. */
function readMeasured(path: string): Measured {
  const measured = JSON.parse(readFileSync(path, 'utf8')) as Measured;
  for (const byContender of Object.values(measured.results)) {
    for (const runs of Object.values(byContender ?? {})) {
      runs?.forEach((r, i) => {
        const failed = r as unknown as { error?: string };
        if (typeof failed.error === 'string') runs[i] = new Error(failed.error);
      });
    }
  }
  return measured;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const measured = opts.reportFrom ? readMeasured(opts.reportFrom) : await measure(opts);
  const { markdown, passed } = report({
    ...measured,
    analysis: existsSync(join(repoRoot, 'bench/analysis.md')) ? readFileSync(join(repoRoot, 'bench/analysis.md'), 'utf8') : undefined,
  });
  process.stdout.write(markdown + '\n');
  if (opts.out) {
    writeFileSync(opts.out, markdown + '\n');
    process.stderr.write(`bench: wrote ${opts.out}\n`);
  }
  if (opts.json && !opts.reportFrom) {
    const raw = JSON.stringify(measured, (_k, v: unknown) => (v instanceof Error ? { error: v.message } : v), 2);
    writeFileSync(opts.json, raw + '\n');
  }
  process.exitCode = passed ? 0 : 1;
}

async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});

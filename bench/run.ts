/**
 * `npm run bench [-- options]`: runs the four scenarios against plain ws, socket.io and Parley,
 * one server after another (each in its own process, the load in another), prints a table of
 * figures and Parley/peer ratios, and writes it with the machine's description to
 * docs/benchmarks.md.
 *
 *   --quick             everything scaled down (a smoke run; docs are not written unless --out)
 *   --runs=N            repeat the whole bench N times and report medians (default 1)
 *   --servers=a,b       any of ws, socketio, parley (default all three)
 *   --scenarios=a,b     any of fanout, latency, idle, rooms, or 1-4 (default all)
 *   --parley=MODE       auto (default: dist/, compiled if stale), dist, or source (tsx)
 *   --out=PATH          where to write the Markdown report (default docs/benchmarks.md, full runs only)
 *   --no-write          print only
 *   --cpu-prof=DIR      write a V8 CPU profile of every server process into DIR
 *   --idle=N            idle connections in scenario 3 (default 10,000; up to the open-file limit)
 *   --json=PATH         also write every raw result as JSON
 *   --cpu-prof-load=DIR a V8 CPU profile of every load process, to check that it is not the bottleneck
 *   --node-flags=F,G    extra node flags for every server process (a diagnostic; noted in the report)
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { FULL, QUICK, SCENARIOS, timeoutMs } from './scenarios.js';
import { freePort, prepareParley, repoRoot, serverLabel, spawnWithFileLimit, startServer, type ParleyMode, type RunningServer } from './servers.js';
import { report, SERVERS, type Results } from './report.js';
import type { Job, LoadReply, ScenarioName, ScenarioResult, ServerKind } from './types.js';

interface Options {
  quick: boolean;
  runs: number;
  servers: ServerKind[];
  scenarios: ScenarioName[];
  parley: ParleyMode | 'auto';
  out: string | undefined;
  cpuProfileDir: string | undefined;
  nodeFlags: string[];
  json: string | undefined;
  loadProfileDir: string | undefined;
  idle: number | undefined;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { quick: false, runs: 1, servers: SERVERS, scenarios: SCENARIOS, parley: 'auto', out: undefined, cpuProfileDir: undefined, nodeFlags: [], json: undefined, loadProfileDir: undefined, idle: undefined };
  let write = true;
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const val = eq < 0 ? '' : arg.slice(eq + 1);
    const list = () => val.split(',').map((s) => s.trim()).filter(Boolean);
    if (flag === '--quick') opts.quick = true;
    else if (flag === '--runs' && /^[1-9]\d*$/.test(val)) opts.runs = Number(val);
    else if (flag === '--servers' && list().every((s) => (SERVERS as string[]).includes(s))) opts.servers = SERVERS.filter((s) => list().includes(s));
    else if (flag === '--scenarios') {
      const names = list().map((s) => (/^[1-4]$/.test(s) ? SCENARIOS[Number(s) - 1]! : s));
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
    else usage(`bad option ${arg}`);
  }
  if (write && opts.out === undefined && !opts.quick) opts.out = join(repoRoot, 'docs/benchmarks.md');
  if (!write) opts.out = undefined;
  return opts;
}

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}\nsee the comment at the top of bench/run.ts for the options\n`);
  process.exit(2);
}

function machine(): string[] {
  const cpu = cpus();
  return [
    `CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores`,
    `Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node.js ${process.version}, Linux ${release()}`,
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

function summary(scenario: ScenarioName, r: ScenarioResult): string {
  const m = r.metrics;
  const f = (v: number | undefined, d = 0) => (v === undefined ? '?' : v.toLocaleString('en', { maximumFractionDigits: d }));
  const load = `load CPU ${Math.round(r.loadCpu * 100)}%`;
  switch (scenario) {
    case 'fanout':
    case 'rooms':
      return `${f(m.deliveredPerSec)} delivered/s, server CPU ${Math.round((m.serverCpu ?? 0) * 100)}%, ${load}`;
    case 'latency':
      return `p50 ${f(m.p50Ms, 2)} ms, p99 ${f(m.p99Ms, 2)} ms, max ${f(m.maxMs, 1)} ms, ${load}`;
    case 'idle':
      return `${f(m.idleRssPerConnKB, 1)} KB/conn idle (${f(m.burstRssPerConnKB, 1)} after the burst, ${f(m.liveRssPerConnKB, 1)} after a full GC), ${f(m.connectPerSec)} connects/s, ${f(m.open)} open`;
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const base = opts.quick ? QUICK : FULL;
  const sizes = opts.idle ? { ...base, idle: { ...base.idle, connections: opts.idle } } : base;
  const notes: string[] = [];
  let parleyMode: ParleyMode = 'source';
  if (opts.servers.includes('parley')) {
    const prepared = prepareParley(opts.parley);
    parleyMode = prepared.mode;
    notes.push(prepared.note + ', with RATE_LIMIT=0 and MAX_CONNECTIONS above the load, everything else at its default.');
  }
  for (const dir of [opts.cpuProfileDir, opts.loadProfileDir]) if (dir) mkdirSync(dir, { recursive: true });
  if (opts.nodeFlags.length > 0) notes.push(`Every server ran with the extra node flags ${opts.nodeFlags.join(' ')}.`);
  const maxConnections = Math.max(sizes.idle.connections, sizes.rooms.rooms * sizes.rooms.roomSize, sizes.fanout.receivers) + 1000;
  const results: Results = {};
  const machineLines = machine();

  for (let run = 1; run <= opts.runs; run++) {
    for (const scenario of opts.scenarios) {
      for (const kind of opts.servers) {
        const label = `[run ${run}/${opts.runs}] ${scenario} · ${serverLabel[kind]}`;
        process.stderr.write(`${label} …\n`);
        const slot = ((results[scenario] ??= {})[kind] ??= []);
        let server: RunningServer | undefined;
        try {
          // Every server of the idle scenario gets an inspector, through which the load forces a full GC.
          const inspectPort = scenario === 'idle' ? await freePort() : undefined;
          server = await startServer(kind, { parley: parleyMode, maxConnections, cpuProfileDir: opts.cpuProfileDir, nodeFlags: opts.nodeFlags, inspectPort });
          live.add(server);
          const job = {
            scenario,
            params: sizes[scenario],
            target: { kind, host: server.host, port: server.port, pid: server.pid, inspectPort },
          } as Job;
          const result = await runLoad(job, timeoutMs(scenario, opts.quick), opts.loadProfileDir);
          slot.push(result);
          process.stderr.write(
            `${label}: ${summary(scenario, result)}${result.check && !result.check.passed ? ' — DELIVERY CHECK FAILED' : ''}` +
              `${result.setup ? ` (${result.setup})` : ''}\n`,
          );
          if (opts.cpuProfileDir && result.windowUs) {
            const [from, to] = result.windowUs;
            process.stderr.write(`${label}: measured window for bench/profile-summary.ts: --from=${from} --to=${to}\n`);
          }
          for (const note of result.notes) notes.push(`${scenario} · ${serverLabel[kind]}: ${note}`);
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
  const { markdown, passed } = report({
    results,
    sizes,
    scenarios: opts.scenarios,
    servers: opts.servers,
    runs: opts.runs,
    quick: opts.quick,
    analysis: existsSync(join(repoRoot, 'bench/analysis.md')) ? readFileSync(join(repoRoot, 'bench/analysis.md'), 'utf8') : undefined,
    machine: machineLines,
    notes,
    command: `npm run bench${args ? ` -- ${args}` : ''}`,
  });
  process.stdout.write(markdown + '\n');
  if (opts.out) {
    writeFileSync(opts.out, markdown + '\n');
    process.stderr.write(`bench: wrote ${opts.out}\n`);
  }
  if (opts.json) {
    const raw = JSON.stringify({ machine: machineLines, sizes, results }, (_k, v: unknown) => (v instanceof Error ? { error: v.message } : v), 2);
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

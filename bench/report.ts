/**
 * The bench's output: Markdown tables of absolute figures (medians over runs) and ratios (one node
 * against the peers; one node on PostgreSQL + Redis against SQLite; two nodes against socket.io
 * with its Redis adapter, and a node's death), the targets with a verdict, the delivery checks,
 * every run's headline figures, and the machine.
 */
import { describe, type Sizes } from './scenarios.js';
import { contenderLabel } from './deployments.js';
import { methodText } from './report-method.js';
import { targets } from './report-targets.js';
import { int, kb, ms, ok, oneDecimal, pct, ratio, value, type Results } from './report-values.js';
import type { Contender, DeliveryCheck, ScenarioName } from './types.js';

export type { Results };

/** Every contender, in the order of the tables' columns. */
export const CONTENDER_ORDER: Contender[] = ['ws', 'socketio', 'parley', 'parley-pg'];


interface Row {
  scenario: ScenarioName;
  key: string;
  label: string;
  format: (v: number) => string;
  /** load CPU is not in metrics but on the result */
  fromLoad?: boolean;
  /** a figure about the run, or a count: no ratio */
  noRatio?: boolean;
}

const throughputRows = (scenario: ScenarioName, serverCpu = 'server CPU (of one core)'): Row[] => [
  { scenario, key: 'deliveredPerSec', label: 'delivered msgs/s', format: int },
  { scenario, key: 'serverCpu', label: serverCpu, format: pct },
  { scenario, key: 'deliveredPerCpuSec', label: 'delivered per server CPU-second', format: int },
  { scenario, key: 'loadCpu', label: 'load generator CPU', format: pct, fromLoad: true },
  { scenario, key: 'otherCpu', label: "other processes' CPU (noise)", format: pct, noRatio: true },
];

/** Parley's own counters (its /metrics over the window): the store's batches and, on several nodes, the holes filled from it. */
const storeRows = (scenario: ScenarioName, several: boolean): Row[] => [
  { scenario, key: 'messagesPerAppend', label: 'Parley: messages per store append (its batches)', format: oneDecimal, noRatio: true },
  { scenario, key: 'appendMs', label: 'Parley: store append, mean ms', format: ms, noRatio: true },
  ...(several
    ? [{ scenario, key: 'filledFromStore', label: "Parley: messages a node read from the store (a hole: another node's came first)", format: pct, noRatio: true }]
    : []),
];

const ONE_NODE_ROWS: Row[] = [
  ...throughputRows('fanout'),
  { scenario: 'latency', key: 'p50Ms', label: 'p50 ms (all deliveries)', format: ms },
  { scenario: 'latency', key: 'p99Ms', label: 'p99 ms (all deliveries)', format: ms },
  { scenario: 'latency', key: 'maxMs', label: 'max ms', format: ms },
  { scenario: 'latency', key: 'probeP99Ms', label: 'p99 ms (probe, parsed)', format: ms },
  { scenario: 'latency', key: 'serverCpu', label: 'server CPU (of one core)', format: pct },
  { scenario: 'latency', key: 'otherCpu', label: "other processes' CPU (noise)", format: pct, noRatio: true },
  { scenario: 'idle', key: 'idleRssPerConnKB', label: 'RSS per connection KB, idle (after a heartbeat round)', format: kb },
  { scenario: 'idle', key: 'burstRssPerConnKB', label: 'RSS per connection KB, right after the burst', format: kb },
  { scenario: 'idle', key: 'liveRssPerConnKB', label: 'RSS per connection KB after a full GC', format: kb },
  { scenario: 'idle', key: 'heapPerConnKB', label: 'of which JS heap used KB (Parley /metrics)', format: kb },
  { scenario: 'idle', key: 'connectPerSec', label: 'connects/s (sign-in + upgrade)', format: int },
  { scenario: 'idle', key: 'connectCpuUs', label: 'server CPU µs per connect', format: int },
  { scenario: 'idle', key: 'loadConnectCpuUs', label: 'load generator CPU µs per connect', format: int, noRatio: true },
  { scenario: 'idle', key: 'joinPerSec', label: 'joins/s', format: int },
  { scenario: 'idle', key: 'otherCpu', label: "other processes' CPU (noise)", format: pct, noRatio: true },
  ...throughputRows('rooms'),
];

const DEATH_ROWS: Row[] = [
  { scenario: 'node-death', key: 'affected', label: "clients of the dead node (their connection cut)", format: int, noRatio: true },
  { scenario: 'node-death', key: 'reconnectP50Ms', label: 'connected again, p50 ms after the kill', format: int },
  { scenario: 'node-death', key: 'reconnectP99Ms', label: 'connected again, p99 ms', format: int },
  { scenario: 'node-death', key: 'reconnectMaxMs', label: 'connected again, max ms', format: int },
  { scenario: 'node-death', key: 'backP50Ms', label: 'back and caught up, p50 ms after the kill', format: int },
  { scenario: 'node-death', key: 'backP99Ms', label: 'back and caught up, p99 ms', format: int },
  { scenario: 'node-death', key: 'backMaxMs', label: 'back and caught up, max ms', format: int },
  { scenario: 'node-death', key: 'notBack', label: 'clients never caught up', format: int, noRatio: true },
  { scenario: 'node-death', key: 'messages', label: 'messages acked', format: int, noRatio: true },
  { scenario: 'node-death', key: 'lost', label: 'acked messages lost (summed over receivers)', format: int, noRatio: true },
  { scenario: 'node-death', key: 'duplicates', label: 'messages duplicated (summed over receivers)', format: int, noRatio: true },
  { scenario: 'node-death', key: 'unacked', label: 'sends never acked', format: int, noRatio: true },
  { scenario: 'node-death', key: 'recovered', label: 'sessions recovered (socket.io connection-state recovery)', format: int, noRatio: true },
];

/** The processes of several-process deployments, in the order their CPU rows are shown. */
const PROCESS_ORDER = ['Parley', 'node 1', 'node 2', 'PostgreSQL', 'Redis', 'nginx'];

/** Rows of each process's CPU (`cpu:<name>` metrics) of the contenders in a scenario, inserted after `after`'s row. */
function withProcessRows(
  rows: Row[],
  results: Results,
  scenario: ScenarioName,
  contenders: Contender[],
  after: string,
  label: (name: string) => string,
): Row[] {
  const names = new Set<string>();
  for (const who of contenders) {
    for (const r of ok(results[scenario]?.[who])) for (const k of Object.keys(r.metrics)) if (k.startsWith('cpu:')) names.add(k.slice(4));
  }
  const order = (n: string) => (PROCESS_ORDER.includes(n) ? PROCESS_ORDER.indexOf(n) : PROCESS_ORDER.length);
  const cpuRows = [...names]
    .sort((a, b) => order(a) - order(b))
    .map((name): Row => ({ scenario, key: `cpu:${name}`, label: label(name), format: pct, noRatio: true }));
  const at = rows.findIndex((r) => r.scenario === scenario && r.key === after);
  return at < 0 ? [...rows, ...cpuRows] : [...rows.slice(0, at + 1), ...cpuRows, ...rows.slice(at + 1)];
}

interface TableSpec {
  scenarios: ScenarioName[];
  /** the contenders and their headings */
  columns: [Contender, string][];
  rows: Row[];
  /** ratio columns: [numerator, denominator, heading] */
  ratios: [Contender, Contender, string][];
}

function table(results: Results, sizes: Sizes, spec: TableSpec): string {
  const head = ['scenario', 'metric', ...spec.columns.map((c) => c[1]), ...spec.ratios.map((r) => r[2])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const scenario of spec.scenarios) {
    spec.rows
      .filter((r) => r.scenario === scenario)
      .forEach((row, i) => {
        const cell = (c: Contender) => value(results, scenario, c, row.key, row.fromLoad);
        const cells = spec.columns.map(([c]) => row.format(cell(c)));
        const ratios = spec.ratios.map(([a, b]) => (row.fromLoad || row.noRatio ? '' : ratio(cell(a), cell(b))));
        lines.push(`| ${i === 0 ? describe(scenario, sizes) : ''} | ${row.label} | ${cells.join(' | ')} |${ratios.length > 0 ? ` ${ratios.join(' | ')} |` : ''}`);
      });
  }
  return lines.join('\n');
}

function describeCheck(c: DeliveryCheck): string {
  const what = `${c.receivers.toLocaleString('en')} receivers, ${c.messages.toLocaleString('en')} messages`;
  if (c.passed) return `passed (${what}: each exactly once, in order)`;
  const problems = [
    c.incomplete && `${c.incomplete} receivers missing messages or with extra ones`,
    c.orderErrors && `${c.orderErrors} frames out of order or repeated`,
    c.unacked && `${c.unacked} publishes not acked`,
    c.closed && `${c.closed} connections closed by the server`,
    ...c.errors,
  ].filter(Boolean);
  return `FAILED (${what}: ${problems.join('; ')})`;
}

/** One line per scenario, contender and run: the exactly-once, in-order check (scenario 7: what socket.io's clients got). */
export function checks(results: Results, scenarios: ScenarioName[]): { lines: string[]; passed: boolean } {
  const lines: string[] = [];
  let passed = true;
  for (const scenario of scenarios) {
    for (const who of CONTENDER_ORDER) {
      (results[scenario]?.[who] ?? []).forEach((r, run, all) => {
        const label = `${scenario} · ${contenderLabel(who, scenario)}${all.length > 1 ? ` · run ${run + 1}` : ''}`;
        if (r instanceof Error) {
          passed = false;
          lines.push(`- ${label}: ERROR ${r.message.split('\n')[0]}`);
        } else if (r.check) {
          if (!r.check.passed) passed = false;
          lines.push(`- ${label}: exactly-once in order ${describeCheck(r.check)}`);
        } else if (scenario === 'node-death') {
          const m = r.metrics;
          lines.push(
            `- ${label}: no delivery promised across a node's death; its clients lost ${int(m.lost ?? NaN)} and got ${int(m.duplicates ?? NaN)} duplicated ` +
              `of ${int(m.messages ?? NaN)} acked messages, ${int(m.unacked ?? NaN)} sends were never acked, ${int(m.recovered ?? NaN)} sessions recovered`,
          );
        }
      });
    }
  }
  return { lines, passed };
}

/** Headline figures of each run, to show the spread behind the medians, with each run's load average. */
function perRun(results: Results, scenarios: ScenarioName[]): string {
  const headline: [ScenarioName, string, string, (v: number) => string][] = [
    ['fanout', 'deliveredPerSec', 'fan-out msgs/s', int],
    ['latency', 'p99Ms', 'latency p99 ms', ms],
    ['idle', 'idleRssPerConnKB', 'KB/connection idle', kb],
    ['idle', 'burstRssPerConnKB', 'KB/connection right after the burst', kb],
    ['idle', 'liveRssPerConnKB', 'KB/connection after GC', kb],
    ['idle', 'connectPerSec', 'connects/s', int],
    ['rooms', 'deliveredPerSec', 'rooms msgs/s', int],
    ['nodes-fanout', 'deliveredPerSec', 'two nodes, fan-out msgs/s', int],
    ['nodes-rooms', 'deliveredPerSec', 'two nodes, rooms msgs/s', int],
    ['node-death', 'backP99Ms', "a node's death, back and caught up p99 ms", int],
    ['node-death', 'lost', "a node's death, lost", int],
  ];
  const lines = ['| figure | server | runs (load average at the start) |', '|---|---|---|'];
  for (const [scenario, key, label, format] of headline) {
    if (!scenarios.includes(scenario)) continue;
    for (const who of CONTENDER_ORDER) {
      const runs = results[scenario]?.[who];
      if (!runs) continue;
      const cells = runs.map((r) => (r instanceof Error ? 'error' : `${format(r.metrics[key] ?? NaN)}${r.loadAverage === undefined ? '' : ` (${r.loadAverage.toFixed(2)})`}`));
      lines.push(`| ${label} | ${contenderLabel(who, scenario)} | ${cells.join(', ')} |`);
    }
  }
  return lines.join('\n');
}

export interface ReportInput {
  results: Results;
  sizes: Sizes;
  scenarios: ScenarioName[];
  runs: number;
  quick: boolean;
  /** hand-written profiling notes appended to full reports */
  analysis?: string;
  machine: string[];
  notes: string[];
  command: string;
}

export function report(input: ReportInput): { markdown: string; passed: boolean } {
  const { results, sizes, runs } = input;
  const present = (s: ScenarioName) => input.scenarios.includes(s) && results[s] !== undefined;
  const has = (s: ScenarioName, c: Contender) => (results[s]?.[c]?.length ?? 0) > 0;
  const check = checks(results, input.scenarios);
  const parts = [
    `# Benchmarks${input.quick ? ' (quick smoke run: figures are not meaningful)' : ''}`,
    '',
    `Measured with \`${input.command}\`${runs > 1 ? `; every figure is the median of ${runs} runs` : ''}.`,
    '',
    '## Machine',
    '',
    ...input.machine.map((m) => `- ${m}`),
    '',
  ];

  const oneNode = (['fanout', 'latency', 'idle', 'rooms'] as ScenarioName[]).filter(present);
  const oneNodeColumns = (['ws', 'socketio', 'parley'] as Contender[]).filter((c) => oneNode.some((s) => has(s, c)));
  if (oneNode.length > 0 && oneNodeColumns.length > 0) {
    const peers = oneNodeColumns.filter((c) => c !== 'parley');
    const ratios: TableSpec['ratios'] = oneNodeColumns.includes('parley') ? peers.map((p) => ['parley', p, `Parley/${contenderLabel(p)}`]) : [];
    const columns = oneNodeColumns.map((c): [Contender, string] => [c, contenderLabel(c)]);
    parts.push('## One node', '', table(results, sizes, { scenarios: oneNode, columns, rows: ONE_NODE_ROWS, ratios }), '');
  }

  const pg = (['fanout', 'rooms'] as ScenarioName[]).filter((s) => present(s) && has(s, 'parley-pg'));
  if (pg.length > 0) {
    const columns = ([['parley', 'Parley (SQLite)'], ['parley-pg', 'Parley (PostgreSQL + Redis)']] as [Contender, string][]).filter(([c]) => pg.some((s) => has(s, c)));
    let rows = pg.flatMap((s) => [...throughputRows(s, 'server CPU, all its processes (of one core)'), ...storeRows(s, false)]);
    for (const s of pg) rows = withProcessRows(rows, results, s, ['parley', 'parley-pg'], 'serverCpu', (name) => `of which ${name}`);
    parts.push(
      '## One node on PostgreSQL + Redis',
      '',
      'Parley on one node with `DATABASE_URL` and `REDIS_URL`, next to the same scenarios on SQLite (the column of the table above).',
      '',
      table(results, sizes, { scenarios: pg, columns, rows, ratios: columns.length === 2 ? [['parley-pg', 'parley', 'PostgreSQL/SQLite']] : [] }),
      '',
    );
  }

  const several = (['nodes-fanout', 'nodes-rooms', 'node-death'] as ScenarioName[]).filter(present);
  if (several.length > 0) {
    const both: Contender[] = ['socketio', 'parley'];
    let rows = (['nodes-fanout', 'nodes-rooms'] as ScenarioName[]).flatMap((s) => [
      ...throughputRows(s, 'server CPU, all processes (of one core)'),
      ...storeRows(s, true),
    ]);
    for (const s of ['nodes-fanout', 'nodes-rooms'] as ScenarioName[]) rows = withProcessRows(rows, results, s, both, 'serverCpu', (name) => `of which ${name}`);
    rows = withProcessRows([...rows, ...DEATH_ROWS], results, 'node-death', both, 'recovered', (name) => `CPU of ${name}, from the kill until all were back`);
    rows.push({ scenario: 'node-death', key: 'loadCpu', label: 'load generator CPU, the same window', format: pct, fromLoad: true });
    const columns = ([['socketio', 'socket.io (Redis adapter)'], ['parley', 'Parley (PostgreSQL + Redis)']] as [Contender, string][]).filter(([c]) =>
      several.some((s) => has(s, c)),
    );
    parts.push(
      '## Two nodes',
      '',
      'Two socket.io 4 nodes with `@socket.io/redis-adapter` on one Redis, against two Parley nodes on one PostgreSQL and one Redis ' +
        '(every message stored in PostgreSQL before anyone sees it). In 5 and 6 the clients connect to the nodes directly, half to each; ' +
        'in 7 through nginx running `deploy/nginx.conf`.',
      '',
      table(results, sizes, { scenarios: several, columns, rows, ratios: columns.length === 2 ? [['parley', 'socketio', 'Parley/socket.io']] : [] }),
      '',
    );
  }

  const verdicts = targets(results, input.scenarios);
  if (verdicts.length > 0) parts.push('## Targets (issues 5 and 17)', '', ...verdicts, '');
  parts.push('## Delivery check', '', ...check.lines, '');
  if (runs > 1) parts.push('## Every run', '', perRun(results, input.scenarios), '');
  if (input.notes.length > 0) parts.push('## Notes', '', ...input.notes.map((n) => `- ${n}`), '');
  if (input.analysis && !input.quick) parts.push(input.analysis.trim(), '');
  parts.push(methodText());
  return { markdown: parts.join('\n'), passed: check.passed };
}

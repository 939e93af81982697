/**
 * The bench's output: a Markdown table of absolute figures (medians over runs) and Parley/peer
 * ratios, the targets of issue 5 with a verdict, the delivery checks, and the machine.
 */
import { median } from './stats.js';
import { describe, type Sizes } from './scenarios.js';
import { parleyCommandLine, serverLabel } from './servers.js';
import type { DeliveryCheck, ScenarioName, ScenarioResult, ServerKind } from './types.js';

export const SERVERS: ServerKind[] = ['ws', 'socketio', 'parley'];

/** results[scenario][server] = one entry per run (an Error when the run failed) */
export type Results = Partial<Record<ScenarioName, Partial<Record<ServerKind, (ScenarioResult | Error)[]>>>>;

interface Row {
  scenario: ScenarioName;
  key: string;
  label: string;
  format: (v: number) => string;
  /** load CPU is not in metrics but on the result */
  fromLoad?: boolean;
  /** a figure about the run, not the server: no Parley/peer ratio */
  noRatio?: boolean;
}

const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en') : '–');
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '–');
const kb = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : '–');

const ROWS: Row[] = [
  { scenario: 'fanout', key: 'deliveredPerSec', label: 'delivered msgs/s', format: int },
  { scenario: 'fanout', key: 'serverCpu', label: 'server CPU (of one core)', format: pct },
  { scenario: 'fanout', key: 'deliveredPerCpuSec', label: 'delivered per server CPU-second', format: int },
  { scenario: 'fanout', key: 'loadCpu', label: 'load generator CPU', format: pct, fromLoad: true },
  { scenario: 'fanout', key: 'otherCpu', label: "other processes' CPU (noise)", format: pct, noRatio: true },
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
  { scenario: 'idle', key: 'joinPerSec', label: 'joins/s', format: int },
  { scenario: 'idle', key: 'otherCpu', label: "other processes' CPU (noise)", format: pct, noRatio: true },
  { scenario: 'rooms', key: 'deliveredPerSec', label: 'delivered msgs/s', format: int },
  { scenario: 'rooms', key: 'serverCpu', label: 'server CPU (of one core)', format: pct },
  { scenario: 'rooms', key: 'deliveredPerCpuSec', label: 'delivered per server CPU-second', format: int },
  { scenario: 'rooms', key: 'loadCpu', label: 'load generator CPU', format: pct, fromLoad: true },
  { scenario: 'rooms', key: 'otherCpu', label: "other processes' CPU (noise)", format: pct, noRatio: true },
];

function ok(runs: (ScenarioResult | Error)[] | undefined): ScenarioResult[] {
  return (runs ?? []).filter((r): r is ScenarioResult => !(r instanceof Error));
}

export function value(results: Results, scenario: ScenarioName, kind: ServerKind, key: string, fromLoad = false): number {
  return median(ok(results[scenario]?.[kind]).map((r) => (fromLoad ? r.loadCpu : (r.metrics[key] ?? NaN))));
}

function ratio(parley: number, peer: number): string {
  if (!Number.isFinite(parley) || !Number.isFinite(peer) || peer === 0) return '–';
  const r = parley / peer;
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

function table(results: Results, sizes: Sizes, scenarios: ScenarioName[], servers: ServerKind[]): string {
  const peers = servers.filter((s) => s !== 'parley');
  const hasParley = servers.includes('parley');
  const head = ['scenario', 'metric', ...servers.map((s) => serverLabel[s]), ...(hasParley ? peers.map((p) => `Parley/${serverLabel[p]}`) : [])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const scenario of scenarios) {
    ROWS.filter((r) => r.scenario === scenario).forEach((row, i) => {
      const cells = servers.map((s) => value(results, scenario, s, row.key, row.fromLoad));
      const parley = value(results, scenario, 'parley', row.key, row.fromLoad);
      const ratios = hasParley && !row.fromLoad && !row.noRatio ? peers.map((p) => ratio(parley, value(results, scenario, p, row.key, row.fromLoad))) : peers.map(() => '');
      lines.push(`| ${i === 0 ? describe(scenario, sizes) : ''} | ${row.label} | ${cells.map(row.format).join(' | ')} |${hasParley ? ` ${ratios.join(' | ')} |` : ''}`);
    });
  }
  return lines.join('\n');
}

/** The issue's targets, judged on the medians. */
function targets(results: Results, scenarios: ScenarioName[], servers: ServerKind[]): string[] {
  if (!servers.includes('parley') || !servers.includes('ws') || !servers.includes('socketio')) return [];
  const v = (s: ScenarioName, k: ServerKind, key: string) => value(results, s, k, key);
  const verdict = (pass: boolean) => (pass ? '**met**' : '**missed**');
  const out: string[] = [];
  if (scenarios.includes('fanout')) {
    const p = v('fanout', 'parley', 'deliveredPerSec');
    const rw = p / v('fanout', 'ws', 'deliveredPerSec');
    const rs = p / v('fanout', 'socketio', 'deliveredPerSec');
    out.push(`- Scenario 1, at least 10× both peers: ${rw.toFixed(2)}× ws, ${rs.toFixed(2)}× socket.io — ${verdict(rw >= 10 && rs >= 10)}`);
  }
  if (scenarios.includes('latency')) {
    const p = v('latency', 'parley', 'p99Ms');
    const w = v('latency', 'ws', 'p99Ms');
    const s = v('latency', 'socketio', 'p99Ms');
    out.push(`- Scenario 2, p99 below both peers' p99: ${ms(p)} ms vs ${ms(w)} (ws) and ${ms(s)} (socket.io) — ${verdict(p < w && p < s)}`);
  }
  if (scenarios.includes('idle')) {
    const p = v('idle', 'parley', 'idleRssPerConnKB');
    const burst = v('idle', 'parley', 'burstRssPerConnKB');
    const live = v('idle', 'parley', 'liveRssPerConnKB');
    out.push(
      `- Scenario 3, at most 8 KB per connection: ${kb(p)} KB idle — ${verdict(p <= 8)}` +
        ` (${kb(burst)} KB right after the burst — ${verdict(burst <= 8)}; ${kb(live)} KB after a full GC — ${verdict(live <= 8)})`,
    );
  }
  if (scenarios.includes('rooms')) {
    const p = v('rooms', 'parley', 'deliveredPerSec');
    const rw = p / v('rooms', 'ws', 'deliveredPerSec');
    const rs = p / v('rooms', 'socketio', 'deliveredPerSec');
    out.push(`- Scenario 4, at least 5× both peers: ${rw.toFixed(2)}× ws, ${rs.toFixed(2)}× socket.io — ${verdict(rw >= 5 && rs >= 5)}`);
  }
  return out;
}

function describeCheck(c: DeliveryCheck): string {
  const what = `${c.receivers.toLocaleString('en')} receivers, ${c.messages.toLocaleString('en')} messages`;
  if (c.passed) return `passed (${what}: each exactly once, in id order${c.unacked === 0 ? '' : ''})`;
  const problems = [
    c.incomplete && `${c.incomplete} receivers missing messages or with extra ones`,
    c.orderErrors && `${c.orderErrors} frames out of order or repeated`,
    c.unacked && `${c.unacked} publishes not acked`,
    c.closed && `${c.closed} connections closed by the server`,
    ...c.errors,
  ].filter(Boolean);
  return `FAILED (${what}: ${problems.join('; ')})`;
}

/** One line per scenario, server and run: the exactly-once, in-order check. */
export function checks(results: Results, scenarios: ScenarioName[], servers: ServerKind[]): { lines: string[]; passed: boolean } {
  const lines: string[] = [];
  let passed = true;
  for (const scenario of scenarios) {
    for (const kind of servers) {
      (results[scenario]?.[kind] ?? []).forEach((r, run, all) => {
        const label = `${scenario} · ${serverLabel[kind]}${all.length > 1 ? ` · run ${run + 1}` : ''}`;
        if (r instanceof Error) {
          passed = false;
          lines.push(`- ${label}: ERROR ${r.message.split('\n')[0]}`);
        } else if (r.check) {
          if (!r.check.passed) passed = false;
          lines.push(`- ${label}: exactly-once in order ${describeCheck(r.check)}`);
        }
      });
    }
  }
  return { lines, passed };
}

/** Headline figures of each run, to show the spread behind the medians. */
function perRun(results: Results, scenarios: ScenarioName[], servers: ServerKind[]): string {
  const headline: [ScenarioName, string, string, (v: number) => string][] = [
    ['fanout', 'deliveredPerSec', 'fan-out msgs/s', int],
    ['latency', 'p99Ms', 'latency p99 ms', ms],
    ['idle', 'idleRssPerConnKB', 'KB/connection idle', kb],
    ['idle', 'burstRssPerConnKB', 'KB/connection right after the burst', kb],
    ['idle', 'liveRssPerConnKB', 'KB/connection after GC', kb],
    ['idle', 'connectPerSec', 'connects/s', int],
    ['rooms', 'deliveredPerSec', 'rooms msgs/s', int],
  ];
  const lines = ['| figure | server | runs |', '|---|---|---|'];
  for (const [scenario, key, label, format] of headline) {
    if (!scenarios.includes(scenario)) continue;
    for (const kind of servers) {
      const runs = (results[scenario]?.[kind] ?? []).map((r) => (r instanceof Error ? 'error' : format(r.metrics[key] ?? NaN)));
      lines.push(`| ${label} | ${serverLabel[kind]} | ${runs.join(', ')} |`);
    }
  }
  return lines.join('\n');
}

const METHOD = `## How it is measured

- Each server runs in its own process, started by the bench: plain \`ws\` (\`bench/peers/ws-broadcast.ts\`:
  the seeds' broadcast loop, \`client.send(text)\` to each member of a room), socket.io 4
  (\`bench/peers/socketio-server.ts\`: \`socket.join(room)\`, \`io.to(room).emit(...)\`, WebSocket transport),
  and Parley as deployed (\`${parleyCommandLine}\`, as \`npm start\` and
  \`deploy/parley.service\` run it; the peers run with V8's defaults: with the same flag they were no
  faster in scenario 4, 2 runs each). The peers get the same sign-in (an HMAC-signed
  guest token checked at the upgrade), a heartbeat, and the seeds' presence per room (a join is sent to
  the room, the joiner gets the room's user list, a close sends \`left\`), so every server does comparable
  work per connection. Parley also stores every message before it goes out, and acks it.
- The load runs in another process (\`bench/load/\`). Its receivers read WebSocket frame headers only and
  take a chat frame's room sequence \`id\` from its bytes, without decoding or JSON-parsing the frame;
  its CPU is reported next to the server's, so one can see which side was the bottleneck.
- Server CPU is utime + stime of the server process from \`/proc/<pid>/stat\` over the measured window
  (100% = one core); memory is VmRSS from \`/proc/<pid>/status\`.
- 1 · Fan-out: publishers outside the room keep a window of messages in flight end to end (they publish
  while fewer than window × receivers deliveries are outstanding). Delivered = chat frames received per
  second over the window, after a warm-up.
- 2 · Latency: one publisher at a fixed rate into the room; latency of every delivery = when the chunk
  holding it was read minus when the message was written (one process, one clock). A probe receiver also
  parses each frame and reads the send time written in the text.
- 3 · Idle: connections sign in (\`POST /api/guest\`) and upgrade, 100 at a time, then each joins a room of
  100; RSS growth / connections, read three times: 2 s after the burst settles (its garbage not yet
  collected), 35 s after it (idle: every server's heartbeat, 30 s for Parley and ws and 25 s for
  socket.io, has pinged each connection once, and V8 has had time to collect on its own; this is the
  figure the target is judged on), and then after a full GC of the server's main thread (forced
  through \`--inspect\`, which every server gets in this scenario; the GC is forced at the baseline
  too), which is what the connections keep. Connect rate = sign-in + upgrade + welcome.
- 4 · Many rooms: the first member of each room publishes and keeps a window of its own messages in flight;
  delivered = chat frames received by all members per second.
- Sign-ins come from many loopback addresses (25 per address), as real users do: Parley limits
  sign-ins per client IP, and that limit stays on.
- Delivery check (every scenario with messages, every server): each receiver got ids 1…n of its room,
  each exactly once and in order, where n is the number published (for Parley: acked).
`;

export interface ReportInput {
  results: Results;
  sizes: Sizes;
  scenarios: ScenarioName[];
  servers: ServerKind[];
  runs: number;
  quick: boolean;
  /** hand-written profiling notes appended to full reports */
  analysis?: string;
  machine: string[];
  notes: string[];
  command: string;
}

export function report(input: ReportInput): { markdown: string; passed: boolean } {
  const { results, sizes, scenarios, servers, runs } = input;
  const check = checks(results, scenarios, servers);
  const verdicts = targets(results, scenarios, servers);
  const parts = [
    `# Benchmarks${input.quick ? ' (quick smoke run: figures are not meaningful)' : ''}`,
    '',
    `Measured with \`${input.command}\`${runs > 1 ? `; every figure is the median of ${runs} runs` : ''}.`,
    '',
    '## Machine',
    '',
    ...input.machine.map((m) => `- ${m}`),
    '',
    '## Results',
    '',
    table(results, sizes, scenarios, servers),
    '',
  ];
  if (verdicts.length > 0) parts.push('## Targets (issue 5)', '', ...verdicts, '');
  parts.push('## Delivery check', '', ...check.lines, '');
  if (runs > 1) parts.push('## Every run', '', perRun(results, scenarios, servers), '');
  if (input.notes.length > 0) parts.push('## Notes', '', ...input.notes.map((n) => `- ${n}`), '');
  if (input.analysis && !input.quick) parts.push(input.analysis.trim(), '');
  parts.push(METHOD);
  return { markdown: parts.join('\n'), passed: check.passed };
}

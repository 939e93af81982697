/** The targets of issues 5 and 17, judged on the medians (and, where the issue says so, on every run). */
import { int, kb, ms, value, type Results } from './report-values.js';
import type { Contender, ScenarioName, ScenarioResult } from './types.js';

const verdict = (pass: boolean) => (pass ? '**met**' : '**missed**');
const x = (r: number) => `${r.toFixed(2)}×`;

/** Parley's figure over a peer's, run by run (the runs of one scenario are interleaved). */
function perRunRatios(results: Results, scenario: ScenarioName, peer: Contender, key: string): number[] {
  const parley = results[scenario]?.parley ?? [];
  const other = results[scenario]?.[peer] ?? [];
  const figure = (r: ScenarioResult | Error | undefined) => (r === undefined || r instanceof Error ? NaN : (r.metrics[key] ?? NaN));
  return parley.map((r, i) => figure(r) / figure(other[i]));
}

export function targets(results: Results, scenarios: ScenarioName[]): string[] {
  const v = (s: ScenarioName, c: Contender, key: string) => value(results, s, c, key);
  const ran = (s: ScenarioName, ...who: Contender[]) => scenarios.includes(s) && who.every((c) => (results[s]?.[c]?.length ?? 0) > 0);
  const out: string[] = [];
  if (ran('fanout', 'parley', 'ws', 'socketio')) {
    const p = v('fanout', 'parley', 'deliveredPerSec');
    const rw = p / v('fanout', 'ws', 'deliveredPerSec');
    const rs = p / v('fanout', 'socketio', 'deliveredPerSec');
    out.push(`- Scenario 1, at least 10× both peers: ${x(rw)} ws, ${x(rs)} socket.io — ${verdict(rw >= 10 && rs >= 10)}`);
  }
  if (ran('latency', 'parley', 'ws', 'socketio')) {
    const p = v('latency', 'parley', 'p99Ms');
    const w = v('latency', 'ws', 'p99Ms');
    const s = v('latency', 'socketio', 'p99Ms');
    out.push(`- Scenario 2, p99 below both peers' p99: ${ms(p)} ms vs ${ms(w)} (ws) and ${ms(s)} (socket.io) — ${verdict(p < w && p < s)}`);
  }
  if (ran('idle', 'parley')) {
    const p = v('idle', 'parley', 'idleRssPerConnKB');
    const burst = v('idle', 'parley', 'burstRssPerConnKB');
    const live = v('idle', 'parley', 'liveRssPerConnKB');
    out.push(
      `- Scenario 3, at most 8 KB per connection: ${kb(p)} KB idle — ${verdict(p <= 8)}` +
        ` (${kb(burst)} KB right after the burst — ${verdict(burst <= 8)}; ${kb(live)} KB after a full GC — ${verdict(live <= 8)})`,
    );
  }
  if (ran('idle', 'parley', 'ws')) {
    const p = v('idle', 'parley', 'connectPerSec');
    const w = v('idle', 'ws', 'connectPerSec');
    const s = ran('idle', 'socketio') ? `, ${x(p / v('idle', 'socketio', 'connectPerSec'))} socket.io` : '';
    out.push(`- The handshake (scenario 3, sign-in + upgrade), connects/s at least ws's: ${int(p)} against ${int(w)}, ${x(p / w)} ws${s} — ${verdict(p >= w)}`);
  }
  if (ran('rooms', 'parley', 'ws', 'socketio')) {
    const p = v('rooms', 'parley', 'deliveredPerSec');
    const rw = p / v('rooms', 'ws', 'deliveredPerSec');
    const rs = p / v('rooms', 'socketio', 'deliveredPerSec');
    out.push(`- Scenario 4, at least 5× both peers: ${x(rw)} ws, ${x(rs)} socket.io — ${verdict(rw >= 5 && rs >= 5)}`);
    const runsWs = perRunRatios(results, 'rooms', 'ws', 'deliveredPerSec');
    const runsSio = perRunRatios(results, 'rooms', 'socketio', 'deliveredPerSec');
    const every = [...runsWs, ...runsSio].every((r) => r >= 5);
    const cpuW = v('rooms', 'parley', 'deliveredPerCpuSec') / v('rooms', 'ws', 'deliveredPerCpuSec');
    const cpuS = v('rooms', 'parley', 'deliveredPerCpuSec') / v('rooms', 'socketio', 'deliveredPerCpuSec');
    out.push(
      `- Scenario 4 above 5× both peers in every run: ${runsWs.map(x).join(', ')} ws; ${runsSio.map(x).join(', ')} socket.io — ${verdict(every)}` +
        ` (per server CPU-second: ${x(cpuW)} ws, ${x(cpuS)} socket.io)`,
    );
  }
  for (const [s, n, at] of [['fanout', 1, 1 / 2], ['rooms', 4, 1 / 3]] as const) {
    if (!ran(s, 'parley', 'parley-pg')) continue;
    const r = v(s, 'parley-pg', 'deliveredPerSec') / v(s, 'parley', 'deliveredPerSec');
    out.push(`- Scenario ${n} on one node, PostgreSQL + Redis at least ${at === 0.5 ? 'half' : 'a third'} of SQLite: ${x(r)} — ${verdict(r >= at)}`);
  }
  for (const [s, n, at] of [['nodes-fanout', 5, 10], ['nodes-rooms', 6, 3]] as const) {
    if (!ran(s, 'parley', 'socketio')) continue;
    const r = v(s, 'parley', 'deliveredPerSec') / v(s, 'socketio', 'deliveredPerSec');
    out.push(`- Scenario ${n}, two nodes, at least ${at}× socket.io with the Redis adapter: ${x(r)} — ${verdict(r >= at)}`);
  }
  if (ran('node-death', 'parley')) {
    const p99 = v('node-death', 'parley', 'backP99Ms');
    const worst = (key: string) => Math.max(...(results['node-death']?.parley ?? []).map((r) => (r instanceof Error ? NaN : (r.metrics[key] ?? NaN))));
    const lost = worst('lost');
    const dup = worst('duplicates');
    const never = worst('notBack');
    out.push(
      `- Scenario 7, back and caught up p99 under 5 s: ${int(p99)} ms${never > 0 ? ` (${int(never)} clients never caught up in a run)` : ''} — ${verdict(p99 < 5000 && never === 0)};` +
        ` 0 lost and 0 duplicated in every run: ${int(lost)} lost, ${int(dup)} duplicated at most — ${verdict(lost === 0 && dup === 0)}`,
    );
  }
  return out;
}

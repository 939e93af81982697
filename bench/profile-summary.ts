/**
 * Summarises a V8 CPU profile (from `npm run bench -- --cpu-prof=DIR`): the functions with the most
 * self time, and the most inclusive time, with their share of the profile.
 *
 *   node --import tsx bench/profile-summary.ts DIR/CPU.….cpuprofile [--top=25] [--from=µs --to=µs] [--per=N]
 *
 * --from/--to keep only the samples of a window on the monotonic clock (the bench prints its
 * measured window when it writes profiles), so setup and shutdown do not blur the picture.
 * --per=N also gives each function's time divided by N (the connections or messages of the window),
 * in µs, and the thread's busy time (everything but `(idle)`) per unit.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

// Piped into `head`, stop quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const option = (name: string) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? NaN);
if (!file) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top=N] [--from=µs --to=µs]\n');
  process.exit(2);
}
const top = Number.isFinite(option('top')) ? option('top') : 25;
const from = Number.isFinite(option('from')) ? option('from') : -Infinity;
const to = Number.isFinite(option('to')) ? option('to') : Infinity;
const per = Number.isFinite(option('per')) && option('per') > 0 ? option('per') : undefined;
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  at += delta;
  if (at >= from && at <= to) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function label(n: ProfileNode): string {
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|dist|bench)\//, '$1/');
  const name = n.callFrame.functionName || '(anonymous)';
  return url ? `${name} ${url}:${n.callFrame.lineNumber + 1}` : name;
}

// Self time per function (nodes of the same function merged), inclusive time counted once per stack.
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}

const fmt = (us: number) =>
  `${(us / 1000).toFixed(0).padStart(7)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%${per ? ` ${(us / per).toFixed(2).padStart(8)} µs/unit` : ''}`;
const print = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [l, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${fmt(us)}  ${l}\n`);
};
const span = (Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1e6;
process.stdout.write(`profile: ${(total / 1000).toFixed(0)} ms sampled over ${span.toFixed(1)} s\n`);
const busy = total - (self.get('(idle)') ?? 0);
process.stdout.write(`busy (all but (idle)): ${(busy / 1000).toFixed(0)} ms, ${((busy / total) * 100).toFixed(1)}%${per ? `, ${(busy / per).toFixed(2)} µs per unit of ${per}` : ''}\n`);
print('self time', self);
print('inclusive time', inclusive);

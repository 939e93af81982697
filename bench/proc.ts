/** A process's CPU time and resident memory from /proc (Linux), read from outside the process. */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The fields of /proc/PID/stat after the command name (which is in parentheses and may contain spaces). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds of all the process's threads so far. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/**
 * CPU seconds so far of a process and of every process below it (PostgreSQL's backends, nginx's
 * workers), by process id; empty when the process is gone.
 */
export function treeCpuSeconds(root: number): Map<number, number> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(Number(entry))[1]);
      const list = children.get(ppid);
      if (list) list.push(Number(entry));
      else children.set(ppid, [Number(entry)]);
    } catch {
      // a process that ended meanwhile
    }
  }
  const out = new Map<number, number>();
  const visit = (pid: number) => {
    try {
      out.set(pid, cpuSeconds(pid));
    } catch {
      return;
    }
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return out;
}

/** A process of a deployment whose CPU is reported: a node, PostgreSQL, Redis, nginx. */
export interface NamedProcess {
  name: string;
  pid: number;
}

/**
 * CPU use of each named process with everything below it, between the call and the returned
 * function's call, as fractions of one core, by name; NaN for a process that ended meanwhile (a
 * killed node). Processes that started below it meanwhile count in full; those that ended, not.
 */
export function processCpuMeter(processes: readonly NamedProcess[]): () => Record<string, number> {
  const before = processes.map((p) => treeCpuSeconds(p.pid));
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const out: Record<string, number> = {};
    processes.forEach((p, i) => {
      const after = treeCpuSeconds(p.pid);
      if (!after.has(p.pid)) {
        out[p.name] = NaN;
        return;
      }
      let used = 0;
      for (const [pid, cpu] of after) used += cpu - (before[i]!.get(pid) ?? 0);
      out[p.name] = used / seconds;
    });
    return out;
  };
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU use of a process between start() and the returned function's call, as a fraction of one core. */
export function cpuMeter(pid: number): () => number {
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  return () => (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
}

/** The same for this process, from process.cpuUsage(). */
export function selfCpuMeter(): () => number {
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const u = process.cpuUsage(u0);
    return (u.user + u.system) / 1000 / (performance.now() - t0);
  };
}

/** Now on CLOCK_MONOTONIC in µs: the clock of V8 CPU profiles' startTime/endTime, the same in every process. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** CPU seconds the whole machine has been busy (all cores), from the first line of /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / clockTicks();
}

/**
 * Over a window: how much CPU (in cores) the machine spent outside the server's processes (and
 * everything below them) and this load process, i.e. the noise from everything else on a shared
 * machine.
 */
export function otherCpuMeter(serverPids: number | readonly number[]): () => number {
  const pids = typeof serverPids === 'number' ? [serverPids] : serverPids;
  const servers = processCpuMeter(pids.map((pid) => ({ name: String(pid), pid })));
  const m0 = machineBusySeconds();
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const u = process.cpuUsage(u0);
    const serverCores = Object.values(servers()).reduce((sum, v) => sum + (Number.isFinite(v) ? v : 0), 0);
    return Math.max(0, (machineBusySeconds() - m0) / seconds - serverCores - (u.user + u.system) / 1e6 / seconds);
  };
}

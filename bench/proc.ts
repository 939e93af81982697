/** A process's CPU time and resident memory from /proc (Linux), read from outside the process. */
import { readFileSync } from 'node:fs';
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

/** User + system CPU seconds of all the process's threads so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
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
 * Over a window: how much CPU (in cores) the machine spent outside the server and this load
 * process, i.e. the noise from everything else on a shared machine.
 */
export function otherCpuMeter(serverPid: number): () => number {
  const m0 = machineBusySeconds();
  const s0 = cpuSeconds(serverPid);
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const u = process.cpuUsage(u0);
    const mine = (cpuSeconds(serverPid) - s0) + (u.user + u.system) / 1e6;
    return Math.max(0, (machineBusySeconds() - m0 - mine) / seconds);
  };
}

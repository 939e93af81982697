/**
 * A watchdog for a process that a test, the bench or a local cluster started: a small shell that
 * ends that process (and removes its folder) when this process dies without having done so, however
 * it dies. The shell's stdin is a pipe from this process; the kernel closes it when this process
 * ends, even by SIGKILL, and the shell's `read` then returns.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

export interface Watchdog {
  /** The watched process is gone: stop watching (its pid may be reused by an unrelated process). */
  disarm(): void;
}

export interface WatchOptions {
  /**
   * KILL (default) ends it at once. TERM lets it stop its own children first (nginx's master stops
   * its workers), with a KILL after 5 s if it is still there.
   */
  signal?: 'KILL' | 'TERM';
  /** A folder to remove once the process is gone. */
  dir?: string;
}

const SCRIPT = [
  'read _',
  'if [ -n "$PID" ]; then kill -"$SIG" "$PID" 2>/dev/null; fi',
  'if [ "$SIG" != KILL ]; then',
  '  i=0; while [ $i -lt 50 ] && kill -0 "$PID" 2>/dev/null; do sleep 0.1; i=$((i+1)); done',
  '  kill -9 "$PID" 2>/dev/null',
  'fi',
  'if [ -n "$DIR" ]; then rm -rf "$DIR"; fi',
].join('\n');

/** Watches the process `pid` (a child of this process) until disarmed. */
export function watchProcess(pid: number | undefined, options: WatchOptions = {}): Watchdog {
  if (pid === undefined) return { disarm() {} };
  return startWatchdog(String(pid), options.signal ?? 'KILL', options.dir ?? '');
}

/** Removes the folder if this process dies before it has removed it itself (and disarmed this). */
export function watchFolder(dir: string): Watchdog {
  return startWatchdog('', 'KILL', dir);
}

function startWatchdog(pid: string, signal: string, dir: string): Watchdog {
  const watchdog = spawn('sh', ['-c', SCRIPT], {
    stdio: ['pipe', 'ignore', 'ignore'],
    // Its own process group: a Ctrl-C in the terminal must not end it before it has done its job.
    detached: true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PID: pid, SIG: signal, DIR: dir },
  });
  watchdog.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as Socket).unref();
  return {
    disarm() {
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
    },
  };
}

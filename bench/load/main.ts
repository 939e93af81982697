/**
 * A load process: it receives one Job over IPC from bench/run.ts, runs it against the server,
 * replies with the result and exits. It runs in its own process so that its CPU is not the
 * server's, and the coordinator can kill it if it hangs.
 */
import { fanout } from './fanout.js';
import { latency } from './latency.js';
import { idle } from './idle.js';
import { rooms } from './rooms.js';
import { nodeDeath } from './node-death.js';
import { closeHttp } from './http.js';
import type { Job, LoadReply, ScenarioResult } from '../types.js';

function run(job: Job): Promise<ScenarioResult> {
  switch (job.scenario) {
    case 'fanout':
    case 'nodes-fanout':
      return fanout(job.target, job.params);
    case 'latency':
      return latency(job.target, job.params);
    case 'idle':
      return idle(job.target, job.params);
    case 'rooms':
    case 'nodes-rooms':
      return rooms(job.target, job.params);
    case 'node-death':
      return nodeDeath(job.target, job.params);
  }
}

// The job comes in the environment: an IPC message could arrive before this module has loaded.
const job = JSON.parse(process.env.BENCH_JOB ?? 'null') as Job | null;
if (!job || !process.send) {
  process.stderr.write('bench/load/main.ts is started by bench/run.ts, with BENCH_JOB and an IPC channel\n');
  process.exit(2);
}
run(job).then(
  (result) => reply({ ok: true, result }),
  (err: unknown) => reply({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
);

function reply(message: LoadReply): void {
  closeHttp();
  process.send!(message, () => process.exit(0));
}

/**
 * Scenario 3, idle connections: N clients sign in and connect (`concurrency` in flight), then each
 * joins a room of `roomSize`; the server's heartbeat stays on its default. Reports the connect
 * rate (sign-in + upgrade + welcome per second), the join rate, and the growth of the server's
 * resident memory per connection after the connections settle.
 */
import { BenchClient, createRooms, runPool } from './client.js';
import { closeAll, connectAll, sleep, toTarget, waitQuiet } from './common.js';
import { monotonicUs, rssBytes, selfCpuMeter } from '../proc.js';
import type { IdleParams, JobTarget, ScenarioResult } from '../types.js';

export async function idle(jobTarget: JobTarget, p: IdleParams): Promise<ScenarioResult> {
  const target = toTarget(jobTarget);
  const roomCount = Math.ceil(p.connections / p.roomSize);
  const roomOf = (i: number) => `idle-${Math.floor(i / p.roomSize)}`;
  const [admin] = await connectAll(target, 1, 'admin', 1);
  await createRooms(admin!, Array.from({ length: roomCount }, (_, r) => `idle-${r}`));
  let clients: BenchClient[] = [];
  try {
    await sleep(500);
    const rssBefore = rssBytes(jobTarget.pid);
    const load = selfCpuMeter();
    const t0 = performance.now();
    const w0 = monotonicUs();
    clients = await connectAll(target, p.connections, 'idle', p.concurrency);
    const connectSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await runPool(clients, p.concurrency, (c, i) => c.join(roomOf(i)));
    const joinSeconds = (performance.now() - t1) / 1000;
    const loadCpu = load();
    const w1 = monotonicUs();
    await waitQuiet(clients, 300);
    await sleep(p.settleMs);
    const rssAfter = rssBytes(jobTarget.pid);
    const open = clients.filter((c) => !c.ws.closed).length;
    return {
      metrics: {
        connections: p.connections,
        open,
        rssPerConnKB: (rssAfter - rssBefore) / p.connections / 1024,
        rssBeforeMB: rssBefore / 2 ** 20,
        rssAfterMB: rssAfter / 2 ** 20,
        connectPerSec: p.connections / connectSeconds,
        joinPerSec: p.connections / joinSeconds,
      },
      loadCpu,
      windowUs: [w0, w1],
      notes: open < p.connections ? [`${p.connections - open} connections were closed by the server`] : [],
    };
  } finally {
    closeAll(clients);
    closeAll([admin!]);
  }
}

/**
 * Scenario 3, idle connections: N clients sign in and connect (`concurrency` in flight), then each
 * joins a room of `roomSize`; the server's heartbeat stays on its default. Reports the connect
 * rate (sign-in + upgrade + welcome per second), the join rate, and the growth of the server's
 * resident memory per connection, read three times: right after the burst (its garbage included),
 * once the connections have idled through a heartbeat round (what an operator sees on an idle
 * server), and after a full garbage collection forced through the server's inspector, at the
 * baseline and at the end alike (every server is measured the same way).
 */
import { BenchClient, createRooms, runPool } from './client.js';
import { getText } from './http.js';
import { closeAll, connectAll, sleep, toTarget, waitQuiet } from './common.js';
import { collectGarbage } from './inspector.js';
import { cpuMeter, monotonicUs, otherCpuMeter, rssBytes, selfCpuMeter } from '../proc.js';
import type { IdleParams, JobTarget, ScenarioResult } from '../types.js';

/** Parley's own view of its memory (prom-client defaults on /metrics): JS heap used and external (Buffers). */
async function parleyMemory(host: string, port: number): Promise<{ heap: number; heapTotal: number; external: number }> {
  const text = await getText(host, port, '/metrics');
  const read = (name: string) => Number(new RegExp(`^parley_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    heap: read('nodejs_heap_size_used_bytes'),
    heapTotal: read('nodejs_heap_size_total_bytes'),
    external: read('nodejs_external_memory_bytes'),
  };
}

/** Resident memory right after a full GC of the server's main thread (when it has an inspector). */
async function liveRssBytes(target: JobTarget): Promise<number | undefined> {
  if (target.inspectPort === undefined) return undefined;
  await collectGarbage(target.inspectPort);
  // V8 gives freed pages back to the OS from a background task.
  await sleep(500);
  return rssBytes(target.pid);
}

export async function idle(jobTarget: JobTarget, p: IdleParams): Promise<ScenarioResult> {
  const target = toTarget(jobTarget);
  const roomCount = Math.ceil(p.connections / p.roomSize);
  const roomOf = (i: number) => `idle-${Math.floor(i / p.roomSize)}`;
  const [admin] = await connectAll(target, 1, 'admin', 1);
  await createRooms(admin!, Array.from({ length: roomCount }, (_, r) => `idle-${r}`));
  let clients: BenchClient[] = [];
  try {
    await sleep(500);
    const parley = target.kind === 'parley';
    const memBefore = parley ? await parleyMemory(target.host, target.port) : undefined;
    const liveRss = () => liveRssBytes(jobTarget);
    // One baseline for every reading: the server's memory with its start-up garbage collected, so
    // that V8 collecting that garbage later is not counted against the connections.
    const rssBefore = (await liveRss()) ?? rssBytes(jobTarget.pid);
    const load = selfCpuMeter();
    const other = otherCpuMeter(jobTarget.pid);
    const t0 = performance.now();
    const w0 = monotonicUs();
    const serverCpu = cpuMeter(jobTarget.pid);
    const loadConnectCpu = selfCpuMeter();
    clients = await connectAll(target, p.connections, 'idle', p.concurrency);
    const connectSeconds = (performance.now() - t0) / 1000;
    const wConnected = monotonicUs();
    // CPU per connect (µs): the server's, and the load's (which signs in and upgrades too).
    const connectCpuUs = (serverCpu() * connectSeconds * 1e6) / p.connections;
    const loadConnectCpuUs = (loadConnectCpu() * connectSeconds * 1e6) / p.connections;
    const t1 = performance.now();
    await runPool(clients, p.concurrency, (c, i) => c.join(roomOf(i)));
    const joinSeconds = (performance.now() - t1) / 1000;
    const loadCpu = load();
    const otherCpu = other();
    await waitQuiet(clients, 300);
    const settled = performance.now();
    await sleep(p.burstReadMs);
    const rssBurst = rssBytes(jobTarget.pid);
    await sleep(p.idleReadMs - (performance.now() - settled));
    const rssAfter = rssBytes(jobTarget.pid);
    const liveAfter = await liveRss();
    const memAfter = parley ? await parleyMemory(target.host, target.port) : undefined;
    const perConnKB = (before: number, after: number) => (after - before) / p.connections / 1024;
    const parleyMetrics: Record<string, number> =
      memBefore && memAfter
        ? {
            heapPerConnKB: perConnKB(memBefore.heap, memAfter.heap),
            heapTotalPerConnKB: perConnKB(memBefore.heapTotal, memAfter.heapTotal),
            externalPerConnKB: perConnKB(memBefore.external, memAfter.external),
          }
        : {};
    const open = clients.filter((c) => !c.ws.closed).length;
    return {
      metrics: {
        connections: p.connections,
        open,
        burstRssPerConnKB: (rssBurst - rssBefore) / p.connections / 1024,
        idleRssPerConnKB: (rssAfter - rssBefore) / p.connections / 1024,
        ...(liveAfter !== undefined ? { liveRssPerConnKB: (liveAfter - rssBefore) / p.connections / 1024 } : {}),
        rssBeforeMB: rssBefore / 2 ** 20,
        rssAfterMB: rssAfter / 2 ** 20,
        connectPerSec: p.connections / connectSeconds,
        connectCpuUs,
        loadConnectCpuUs,
        joinPerSec: p.connections / joinSeconds,
        otherCpu,
        ...parleyMetrics,
      },
      loadCpu,
      // The window of the connects (sign-in + upgrade + welcome), the handshake figure a profile is read for.
      windowUs: [w0, wConnected],
      notes: open < p.connections ? [`${p.connections - open} connections were closed by the server`] : [],
    };
  } finally {
    closeAll(clients);
    closeAll([admin!]);
  }
}

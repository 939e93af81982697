/**
 * Scenario 2, latency at a fixed load: one publisher sends `rate` messages per second, evenly
 * spaced, into a room of N receivers. Every delivery's latency is its arrival time (when the
 * chunk holding it was read) minus its send time, found by the message's room id: one publisher
 * into a fresh room, so id k is the k-th message sent. A probe receiver also parses each frame
 * and reads the send time written into the text, as a cross-check.
 */
import { createRooms } from './client.js';
import { stopwatch, checkDelivery, closeAll, connectAll, payload, payloadTime, sleep, toTarget, waitQuiet, waitUntil } from './common.js';
import { monotonicUs, cpuMeter, otherCpuMeter, selfCpuMeter } from '../proc.js';
import { percentile } from '../stats.js';
import type { JobTarget, LatencyParams, ScenarioResult } from '../types.js';

const ROOM = 'latency';

export async function latency(jobTarget: JobTarget, p: LatencyParams): Promise<ScenarioResult> {
  const target = toTarget(jobTarget);
  const setup = stopwatch();
  const [publisher] = await connectAll(target, 1, 'pub', 1);
  await createRooms(publisher!, [ROOM]);
  const receivers = await connectAll(target, p.receivers, 'rcv', 64);
  const [probe] = await connectAll(target, 1, 'probe', 1);
  setup.lap('connect');
  const all = [...receivers, probe!];
  try {
    await Promise.all(all.map((c) => c.join(ROOM)));
    setup.lap('join');
    await waitQuiet(all);
    setup.lap('quiet');

    const maxMessages = Math.ceil((p.rate * (p.warmupMs + p.measureMs + 2000)) / 1000);
    const sendTimes = new Float64Array(maxMessages + 1);
    const samples = new Float64Array(maxMessages * receivers.length);
    let nSamples = 0;
    const probeSamples: number[] = [];
    let windowStart = Infinity;
    let windowEnd = Infinity;
    const measured = (id: number) => sendTimes[id]! >= windowStart && sendTimes[id]! < windowEnd;
    for (const c of receivers) {
      c.onChat = (client, id) => {
        if (id <= maxMessages && measured(id)) samples[nSamples++] = client.ws.receivedAt - sendTimes[id]!;
      };
    }
    probe!.onChat = (client, id, buf, start, end) => {
      const text = buf.toString('utf8', start, end);
      const msg = JSON.parse(target.kind === 'socketio' ? text.slice(2) : text) as { data: string } | [string, { data: string }];
      const data = Array.isArray(msg) ? msg[1].data : msg.data;
      if (id <= maxMessages && measured(id)) probeSamples.push(client.ws.receivedAt - payloadTime(data));
    };

    let sent = 0;
    let stopped = false;
    const interval = 1000 / p.rate;
    const start = performance.now();
    const tick = () => {
      if (stopped) return;
      while (sent < maxMessages && start + sent * interval <= performance.now()) {
        sent++;
        sendTimes[sent] = performance.now();
        publisher!.ws.send(publisher!.chatText(ROOM, payload(sent, p.dataBytes), `c${sent}`));
      }
      setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
    await sleep(p.warmupMs);
    const server = cpuMeter(jobTarget.pid);
    const other = otherCpuMeter(jobTarget.pid);
    const load = selfCpuMeter();
    windowStart = performance.now();
    const w0 = monotonicUs();
    await sleep(p.measureMs);
    windowEnd = performance.now();
    const w1 = monotonicUs();
    const serverCpu = server();
    const loadCpu = load();
    const otherCpu = other();
    stopped = true;

    const parley = target.kind === 'parley';
    await waitUntil(() => all.every((c) => c.chats >= sent) && (!parley || publisher!.acks >= sent), 15_000);
    const check = checkDelivery([{ receivers: all, expected: sent }], parley ? { got: publisher!.acks, sent } : undefined, [publisher!]);
    const lat = samples.subarray(0, nSamples).sort();
    const probeSorted = Float64Array.from(probeSamples).sort();
    return {
      metrics: {
        p50Ms: percentile(lat, 0.5),
        p99Ms: percentile(lat, 0.99),
        maxMs: lat.length > 0 ? lat[lat.length - 1]! : NaN,
        probeP50Ms: percentile(probeSorted, 0.5),
        probeP99Ms: percentile(probeSorted, 0.99),
        samples: nSamples,
        offeredPerSec: p.rate * receivers.length,
        serverCpu,
        otherCpu,
      },
      check,
      loadCpu,
      notes: [],
      setup: setup.toString(),
      windowUs: [w0, w1],
    };
  } finally {
    closeAll(all);
    closeAll([publisher!]);
  }
}

/**
 * Scenario 1, fan-out throughput: one room of N receivers; P publishers (not in the room) keep
 * `window` messages in flight end to end: they publish while fewer than window × N deliveries
 * are outstanding, so the server is always busy but its buffers stay bounded.
 *
 * Scenario 5 is the same on a deployment of several nodes: receivers and publishers are spread
 * over the nodes in turn, each connected to its node directly.
 */
import { createRooms } from './client.js';
import { stopwatch, checkDelivery, clientOptions, closeAll, connectAll, measureThroughput, nodeTargets, payload, throughputMetrics, sleep, waitQuiet, waitUntil } from './common.js';
import { counterMetrics, readCounters } from './parley-metrics.js';
import type { FanoutParams, JobTarget, ScenarioResult } from '../types.js';

const ROOM = 'fanout';

export async function fanout(jobTarget: JobTarget, p: FanoutParams): Promise<ScenarioResult> {
  const nodes = nodeTargets(jobTarget);
  const options = clientOptions(jobTarget);
  const setup = stopwatch();
  const publishers = await connectAll(nodes, p.publishers, 'pub', p.publishers, options);
  await createRooms(publishers[0]!, [ROOM]);
  const receivers = await connectAll(nodes, p.receivers, 'rcv', 64, options);
  setup.lap('connect');
  try {
    await Promise.all(receivers.map((c) => c.join(ROOM)));
    setup.lap('join');
    await waitQuiet(receivers);
    setup.lap('quiet');

    const n = receivers.length;
    let delivered = 0;
    let sent = 0;
    const publisherSent = publishers.map(() => 0);
    let stopped = false;
    let scheduled = false;
    const pump = () => {
      scheduled = false;
      if (stopped) return;
      const batches: string[][] = publishers.map(() => []);
      while (sent * n - delivered < p.window * n) {
        const i = sent % publishers.length;
        batches[i]!.push(publishers[i]!.chatText(ROOM, payload(++publisherSent[i]!, p.dataBytes, i), `c${sent}`));
        sent++;
      }
      batches.forEach((batch, i) => batch.length > 0 && publishers[i]!.ws.sendMany(batch));
    };
    for (const c of receivers) {
      c.onChat = () => {
        delivered++;
        if (!scheduled) {
          scheduled = true;
          setImmediate(pump);
        }
      };
    }
    pump();
    await sleep(p.warmupMs);
    const parleyBefore = jobTarget.kind === 'parley' ? await readCounters(nodeTargets(jobTarget)) : undefined;
    const window = await measureThroughput(jobTarget, p.measureMs, () => delivered);
    const parleyAfter = parleyBefore ? await readCounters(nodeTargets(jobTarget)) : undefined;
    stopped = true;

    const acks = () => publishers.reduce((s, c) => s + c.acks, 0);
    const parley = jobTarget.kind === 'parley';
    await waitUntil(() => delivered >= sent * n && (!parley || acks() >= sent), 15_000);
    const check = checkDelivery([{ receivers, expected: sent }], parley ? { got: acks(), sent } : undefined, publishers);
    return {
      metrics: {
        ...throughputMetrics(window, n),
        ...(parleyBefore && parleyAfter ? counterMetrics(parleyBefore, parleyAfter, jobTarget.nodes.length) : {}),
      },
      check,
      loadCpu: window.loadCpu,
      notes: [],
      setup: setup.toString(),
      windowUs: window.windowUs,
    };
  } finally {
    closeAll(receivers);
    closeAll(publishers);
  }
}

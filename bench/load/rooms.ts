/**
 * Scenario 4, many rooms: `rooms` rooms of `roomSize` members each, every room chatting. The
 * first member of each room publishes and keeps `window` of its own messages in flight (it is a
 * member, so its own copy coming back tells it the room has moved on). Delivered = chat frames
 * received by all members.
 *
 * Scenario 6 is the same on a deployment of several nodes: the members of each room are spread
 * over the nodes in turn, starting one node further for each room, so the publishers are too.
 */
import { BenchClient, createRooms } from './client.js';
import { stopwatch, checkDelivery, clientOptions, closeAll, connectAll, measureThroughput, nodeTargets, payload, throughputMetrics, sleep, waitQuiet, waitUntil } from './common.js';
import { counterMetrics, readCounters } from './parley-metrics.js';
import type { JobTarget, RoomsParams, ScenarioResult } from '../types.js';

export async function rooms(jobTarget: JobTarget, p: RoomsParams): Promise<ScenarioResult> {
  const setup = stopwatch();
  const names = Array.from({ length: p.rooms }, (_, r) => `room-${r}`);
  // Member k of room r on node r + k.
  const place = (i: number) => Math.floor(i / p.roomSize) + (i % p.roomSize);
  const clients = await connectAll(nodeTargets(jobTarget), p.rooms * p.roomSize, 'm', 100, { ...clientOptions(jobTarget), place });
  setup.lap('connect');
  try {
    await createRooms(clients[0]!, names);
    await Promise.all(clients.map((c, i) => c.join(names[Math.floor(i / p.roomSize)]!)));
    setup.lap('join');
    await waitQuiet(clients);
    setup.lap('quiet');

    const publishers = names.map((_, r) => clients[r * p.roomSize]!);
    const sent = new Array<number>(p.rooms).fill(0);
    const roomIndex = new Map<BenchClient, number>(publishers.map((c, r) => [c, r]));
    const dirty = new Set<number>();
    let delivered = 0;
    let stopped = false;
    let scheduled = false;
    const top = (r: number) => {
      const pub = publishers[r]!;
      const batch: string[] = [];
      while (sent[r]! - pub.chats < p.window) {
        sent[r]!++;
        batch.push(pub.chatText(names[r]!, payload(sent[r]!, p.dataBytes), `c${sent[r]}`));
      }
      if (batch.length > 0) pub.ws.sendMany(batch);
    };
    const pump = () => {
      scheduled = false;
      if (stopped) return;
      for (const r of dirty) top(r);
      dirty.clear();
    };
    for (const c of clients) {
      const r = roomIndex.get(c);
      c.onChat =
        r === undefined
          ? () => void delivered++
          : () => {
              delivered++;
              dirty.add(r);
              if (!scheduled) {
                scheduled = true;
                setImmediate(pump);
              }
            };
    }
    for (let r = 0; r < p.rooms; r++) top(r);
    await sleep(p.warmupMs);
    const parleyBefore = jobTarget.kind === 'parley' ? await readCounters(nodeTargets(jobTarget)) : undefined;
    const window = await measureThroughput(jobTarget, p.measureMs, () => delivered);
    const parleyAfter = parleyBefore ? await readCounters(nodeTargets(jobTarget)) : undefined;
    stopped = true;

    const parley = jobTarget.kind === 'parley';
    const totalSent = () => sent.reduce((s, v) => s + v, 0);
    const acks = () => publishers.reduce((s, c) => s + c.acks, 0);
    await waitUntil(() => delivered >= totalSent() * p.roomSize && (!parley || acks() >= totalSent()), 15_000);
    const groups = names.map((_, r) => ({ receivers: clients.slice(r * p.roomSize, (r + 1) * p.roomSize), expected: sent[r]! }));
    const check = checkDelivery(groups, parley ? { got: acks(), sent: totalSent() } : undefined);
    return {
      metrics: {
        ...throughputMetrics(window, p.roomSize),
        ...(parleyBefore && parleyAfter ? counterMetrics(parleyBefore, parleyAfter, jobTarget.nodes.length) : {}),
      },
      check,
      loadCpu: window.loadCpu,
      notes: [],
      setup: setup.toString(),
      windowUs: window.windowUs,
    };
  } finally {
    closeAll(clients);
  }
}

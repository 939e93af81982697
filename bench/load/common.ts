/** Pieces every scenario uses: connecting many clients, waiting for quiet, draining, checking. */
import { BenchClient, runPool, type ClientOptions, type Target } from './client.js';
import type { DeliveryCheck, JobTarget } from '../types.js';
import { monotonicUs, otherCpuMeter, processCpuMeter, rssBytes, selfCpuMeter } from '../proc.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function toTarget(t: JobTarget): Target {
  return { kind: t.kind, host: t.host, port: t.port };
}

/** Each node of the deployment, to connect to directly. */
export function nodeTargets(t: JobTarget): Target[] {
  return t.nodes.map((n) => ({ kind: t.kind, host: n.host, port: n.port }));
}

/**
 * The client options of a deployment: on several socket.io nodes, whose rooms have no shared
 * sequence, each publisher's order is checked instead of the room's id order.
 */
export function clientOptions(t: JobTarget): ClientOptions {
  return t.kind === 'socketio' && t.nodes.length > 1 ? { byPublisher: true } : {};
}

/**
 * Signs in and connects `n` clients named prefix0…, with `concurrency` in flight. With several
 * targets (nodes), client i goes to targets[place(i) % targets.length] (default: i).
 */
export async function connectAll(
  targets: Target | Target[],
  n: number,
  prefix: string,
  concurrency: number,
  options: ClientOptions & { place?: (i: number) => number } = {},
): Promise<BenchClient[]> {
  const list = Array.isArray(targets) ? targets : [targets];
  const { place = (i: number) => i, ...clientOpts } = options;
  const clients: BenchClient[] = [];
  const indexes = Array.from({ length: n }, (_, i) => i);
  await runPool(indexes, concurrency, async (i) => {
    const client = new BenchClient(list[place(i) % list.length]!, `${prefix}${i}`, clientOpts);
    clients[i] = client;
    await client.connect();
  });
  return clients;
}

export function closeAll(clients: Iterable<BenchClient>): void {
  for (const c of clients) c.close();
}

/**
 * Waits until the clients have received nothing for `quietMs` (e.g. after a storm of presence
 * frames), so that setup traffic does not leak into the measurement. Throws after `maxMs`.
 */
export async function waitQuiet(clients: BenchClient[], quietMs = 300, maxMs = 60_000): Promise<void> {
  const total = () => clients.reduce((s, c) => s + c.ws.textFrames, 0);
  const deadline = performance.now() + maxMs;
  let last = total();
  for (;;) {
    await sleep(quietMs);
    const now = total();
    if (now === last) return;
    if (performance.now() > deadline) throw new Error(`the server was still sending setup frames after ${maxMs / 1000} s`);
    last = now;
  }
}

/** Times the setup steps of a scenario, for the notes. */
export function stopwatch(): { lap(step: string): void; toString(): string } {
  const laps: string[] = [];
  let t = performance.now();
  return {
    lap(step: string) {
      const now = performance.now();
      laps.push(`${step} ${((now - t) / 1000).toFixed(1)} s`);
      t = now;
    },
    toString: () => `setup: ${laps.join(', ')}`,
  };
}

/** Waits until `done()` or the deadline, polling. */
export async function waitUntil(done: () => boolean, maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs;
  while (!done() && performance.now() < deadline) await sleep(20);
}

/**
 * A message of exactly `bytes` characters that starts with where it came from (its publisher and
 * that publisher's sequence number) and its send time: `<publisher>:<seq>@<ms>:xxx…`.
 */
export function payload(seq: number, bytes: number, publisher = 0): string {
  const head = `${publisher}:${seq}@${performance.now().toFixed(3)}:`;
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length);
}

/** The send time that payload() wrote into a message text. */
export function payloadTime(data: string): number {
  const at = data.indexOf('@') + 1;
  return Number(data.slice(at, data.indexOf(':', at)));
}

/**
 * Every receiver of a room got exactly `expected` chat frames with ids 1…expected in order
 * (ids are room sequence numbers and each room is fresh), and for Parley every publish was acked.
 */
export function checkDelivery(
  groups: { receivers: BenchClient[]; expected: number }[],
  acks: { got: number; sent: number } | undefined,
  publishers: BenchClient[] = [],
): DeliveryCheck {
  let receivers = 0;
  let messages = 0;
  let incomplete = 0;
  let orderErrors = 0;
  let closed = 0;
  const errors: string[] = [];
  for (const { receivers: group, expected } of groups) {
    messages += expected;
    for (const c of group) {
      receivers++;
      if (c.chats !== expected || (!c.byPublisher && c.lastId !== expected)) incomplete++;
      orderErrors += c.byPublisher ? c.publisherErrors : c.orderErrors;
      if (c.ws.closed) closed++;
      for (const e of c.errors) if (errors.length < 5) errors.push(`${c.name}: ${e}`);
    }
  }
  for (const c of publishers) {
    if (c.ws.closed) closed++;
    for (const e of c.errors) if (errors.length < 5) errors.push(`${c.name}: ${e}`);
  }
  const unacked = acks ? acks.sent - acks.got : 0;
  return {
    passed: incomplete === 0 && orderErrors === 0 && unacked === 0 && closed === 0 && messages > 0,
    receivers,
    messages,
    incomplete,
    orderErrors,
    unacked,
    closed,
    errors,
  };
}

/** What one measured window of a throughput scenario saw. */
export interface ThroughputWindow {
  /** Deliveries counted per second over the window. */
  deliveredPerSec: number;
  /** every process of the deployment together (the server, or nodes + PostgreSQL + Redis) */
  serverCpu: number;
  /** each process of the deployment, by name */
  processCpu: Record<string, number>;
  otherCpu: number;
  loadCpu: number;
  serverRssMB: number;
  windowUs: [number, number];
}

/** Measures `measureMs` of a running load: deliveries (from `delivered()`), CPU of each process, RSS of the first. */
export async function measureThroughput(target: JobTarget, measureMs: number, delivered: () => number): Promise<ThroughputWindow> {
  const server = processCpuMeter(target.processes);
  const other = otherCpuMeter(target.processes.map((p) => p.pid));
  const load = selfCpuMeter();
  const t0 = performance.now();
  const w0 = monotonicUs();
  const d0 = delivered();
  await sleep(measureMs);
  const seconds = (performance.now() - t0) / 1000;
  const w1 = monotonicUs();
  const d1 = delivered();
  const processCpu = server();
  return {
    deliveredPerSec: (d1 - d0) / seconds,
    serverCpu: Object.values(processCpu).reduce((a, b) => a + b, 0),
    processCpu,
    loadCpu: load(),
    otherCpu: other(),
    serverRssMB: rssBytes(target.pid) / 2 ** 20,
    windowUs: [w0, w1],
  };
}

/** Per-process CPU as metrics: `cpu:<name>`. */
export function processMetrics(processCpu: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(processCpu).map(([name, cpu]) => [`cpu:${name}`, cpu]));
}

/** The scenario metrics of a throughput window; `perMessage` receivers get each message. */
export function throughputMetrics(window: ThroughputWindow, perMessage: number) {
  return {
    deliveredPerSec: window.deliveredPerSec,
    messagesPerSec: window.deliveredPerSec / perMessage,
    serverCpu: window.serverCpu,
    otherCpu: window.otherCpu,
    deliveredPerCpuSec: window.deliveredPerSec / window.serverCpu,
    serverRssMB: window.serverRssMB,
    ...processMetrics(window.processCpu),
  };
}

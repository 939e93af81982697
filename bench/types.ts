/** What the coordinator (run.ts) asks of a load process, and what it gets back. */
import type { ServerKind } from './load/client.js';
import type { NamedProcess } from './proc.js';

export type { ServerKind, NamedProcess };

/**
 * What is measured: a server as a user deploys it. `ws`, `socketio` and `parley` are one process
 * each in scenarios 1-4 (Parley on SQLite); `parley-pg` is one Parley node on PostgreSQL + Redis
 * (scenarios 1 and 4). In scenarios 5-7, `socketio` is two socket.io nodes with the Redis adapter
 * and `parley` two Parley nodes on PostgreSQL + Redis.
 */
export type Contender = 'ws' | 'socketio' | 'parley' | 'parley-pg';

export interface FanoutParams {
  receivers: number;
  publishers: number;
  /** messages in flight: the publishers stop while more than window × receivers deliveries are outstanding */
  window: number;
  dataBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface LatencyParams {
  receivers: number;
  /** messages per second offered to the room (deliveries per second = rate × receivers) */
  rate: number;
  dataBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface IdleParams {
  connections: number;
  roomSize: number;
  /** sign-ins + upgrades in flight */
  concurrency: number;
  /** when memory is first read after the joins: the burst's garbage is still there */
  burstReadMs: number;
  /**
   * when it is read again, idle: long enough for every server's heartbeat to have pinged each
   * connection once and for V8 to have collected the burst's garbage on its own
   */
  idleReadMs: number;
}

export interface RoomsParams {
  rooms: number;
  roomSize: number;
  /** messages in flight per room */
  window: number;
  dataBytes: number;
  warmupMs: number;
  measureMs: number;
}

export interface NodeDeathParams {
  /** clients, spread over the nodes by nginx */
  clients: number;
  roomSize: number;
  /** members of each room that publish, each at `rate` messages a second */
  publishersPerRoom: number;
  rate: number;
  dataBytes: number;
  /** sign-ins and connections in flight while connecting */
  concurrency: number;
  /** messages flow this long before the node is killed */
  warmupMs: number;
  /** how long the dead node's clients get to be back and caught up */
  maxRecoveryMs: number;
  /**
   * once every one of them is connected again, how long the stragglers get to catch up before the
   * wait ends (socket.io's never do: what it did not deliver while they were away does not come)
   */
  settleMs: number;
  /** messages keep flowing this long after they are all back */
  afterMs: number;
}

export type Job =
  | { scenario: 'fanout'; params: FanoutParams; target: JobTarget }
  | { scenario: 'latency'; params: LatencyParams; target: JobTarget }
  | { scenario: 'idle'; params: IdleParams; target: JobTarget }
  | { scenario: 'rooms'; params: RoomsParams; target: JobTarget }
  | { scenario: 'nodes-fanout'; params: FanoutParams; target: JobTarget }
  | { scenario: 'nodes-rooms'; params: RoomsParams; target: JobTarget }
  | { scenario: 'node-death'; params: NodeDeathParams; target: JobTarget };

export type ScenarioName = Job['scenario'];

/** One node of a deployment: where it listens and its process id. */
export interface Endpoint {
  host: string;
  port: number;
  pid: number;
}

export interface JobTarget {
  kind: ServerKind;
  host: string;
  port: number;
  /** the server's process id (the first node's), to read its CPU time and memory from /proc */
  pid: number;
  /** where the server's inspector listens (idle scenario only), to make it collect garbage */
  inspectPort?: number;
  /** every node of the deployment, the first being the one above */
  nodes: Endpoint[];
  /** nginx in front of the nodes (scenario 7) */
  proxy?: { host: string; port: number };
  /** every process of the deployment whose CPU is reported: the nodes, PostgreSQL, Redis, nginx */
  processes: NamedProcess[];
}

/** The delivery check: every receiver got every message exactly once, in id order. */
export interface DeliveryCheck {
  passed: boolean;
  receivers: number;
  /** messages published (and, for Parley, acked) */
  messages: number;
  /** receivers that did not get exactly `messages` chat frames */
  incomplete: number;
  /** chat frames whose id was not the previous id + 1 */
  orderErrors: number;
  /** publishes without an ack (Parley, and socket.io in scenario 7) */
  unacked: number;
  /** connections the server closed during the run */
  closed: number;
  errors: string[];
}

export interface ScenarioResult {
  /** named figures, e.g. deliveredPerSec, serverCpu (fraction of one core), p99Ms */
  metrics: Record<string, number>;
  check?: DeliveryCheck;
  /** the load process's CPU over the measured window, fraction of one core */
  loadCpu: number;
  notes: string[];
  /** the measured window on the system's monotonic clock, in µs (the clock of V8 CPU profiles) */
  windowUs?: [number, number];
  /** how long the setup steps took (printed with the progress, not in the report) */
  setup?: string;
  /** the machine's 1-minute load average when this run started (set by the coordinator) */
  loadAverage?: number;
}

export type LoadReply = { ok: true; result: ScenarioResult } | { ok: false; error: string };

/** What the coordinator (run.ts) asks of a load process, and what it gets back. */
import type { ServerKind } from './load/client.js';

export type { ServerKind };

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

export type Job =
  | { scenario: 'fanout'; params: FanoutParams; target: JobTarget }
  | { scenario: 'latency'; params: LatencyParams; target: JobTarget }
  | { scenario: 'idle'; params: IdleParams; target: JobTarget }
  | { scenario: 'rooms'; params: RoomsParams; target: JobTarget };

export type ScenarioName = Job['scenario'];

export interface JobTarget {
  kind: ServerKind;
  host: string;
  port: number;
  /** the server's process id, to read its CPU time and memory from /proc */
  pid: number;
  /** where the server's inspector listens (idle scenario only), to make it collect garbage */
  inspectPort?: number;
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
  /** Parley only: publishes without an ack */
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
}

export type LoadReply = { ok: true; result: ScenarioResult } | { ok: false; error: string };

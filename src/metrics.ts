/** Prometheus metrics of one node, served at /metrics. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  connections: Gauge;
  /** Open /ws/echo connections (they count against MAX_CONNECTIONS too). */
  echoConnections: Gauge;
  roomsActive: Gauge;
  upgradesRefused: Counter<'status'>;
  messagesStored: Counter;
  framesSent: Counter;
  /** Frames written since start; read into framesSent at scrape time (cheaper than an inc per socket write). */
  framesWritten: { count: number };
  slowReadersClosed: Counter;
  /** Seconds per Store call, by method. */
  storeSeconds: Histogram<'method'>;
  /** Seconds until the broker took a published event (a sample of them). */
  brokerPublishSeconds: Histogram;
  /** Events the broker could not take (the message was stored: delivered by catch-up instead). */
  brokerPublishFailures: Counter;
  /** Times the broker had lost its subscriptions and every followed room was read again from the store. */
  brokerResyncs: Counter;
  /** Messages delivered from the store because their broadcast never reached this node. */
  messagesCaughtUp: Counter;
}

/** Latency buckets from 0.5 ms to 5 s. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** @param nodeId shown as the `node` label of parley_node_info, so that a dashboard can tell the nodes apart. */
export function createMetrics(nodeId = 'parley'): Metrics {
  const registry = new Registry();
  new Gauge({ name: 'parley_node_info', help: 'This node (value 1), by NODE_ID', labelNames: ['node'] as const, registers: [registry] }).set(
    { node: nodeId },
    1,
  );
  const framesWritten = { count: 0 };
  let framesReported = 0;
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return {
    registry,
    connections: new Gauge({ name: 'parley_connections', help: 'Open chat WebSocket connections', registers: [registry] }),
    echoConnections: new Gauge({ name: 'parley_echo_connections', help: 'Open /ws/echo WebSocket connections', registers: [registry] }),
    roomsActive: new Gauge({ name: 'parley_rooms_active', help: 'Rooms with subscribers on this node', registers: [registry] }),
    upgradesRefused: new Counter({
      name: 'parley_upgrades_refused_total',
      help: 'WebSocket upgrades refused, by HTTP status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    messagesStored: new Counter({ name: 'parley_messages_stored_total', help: 'Chat messages stored', registers: [registry] }),
    framesSent: new Counter({
      name: 'parley_frames_sent_total',
      help: 'Data frames written to WebSocket clients',
      registers: [registry],
      collect() {
        this.inc(framesWritten.count - framesReported);
        framesReported = framesWritten.count;
      },
    }),
    framesWritten,
    slowReadersClosed: new Counter({
      name: 'parley_slow_readers_closed_total',
      help: 'Connections closed with 1013 because they did not read',
      registers: [registry],
    }),
    storeSeconds: new Histogram({
      name: 'parley_store_seconds',
      help: 'Store call latency, by method',
      labelNames: ['method'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    brokerPublishSeconds: new Histogram({
      name: 'parley_broker_publish_seconds',
      help: 'Time until the broker took a published event (one in 64 is timed)',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    brokerPublishFailures: new Counter({
      name: 'parley_broker_publish_failures_total',
      help: 'Events the broker could not take; their messages were stored and reach other nodes by catch-up',
      registers: [registry],
    }),
    brokerResyncs: new Counter({
      name: 'parley_broker_resyncs_total',
      help: 'Times the broker got its subscriptions back after losing them, and the rooms were read again from the store',
      registers: [registry],
    }),
    messagesCaughtUp: new Counter({
      name: 'parley_messages_caught_up_total',
      help: 'Messages delivered from the store because their broadcast never reached this node',
      registers: [registry],
    }),
  };
}

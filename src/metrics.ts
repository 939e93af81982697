/** Prometheus metrics of one node, served at /metrics. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  connections: Gauge;
  roomsActive: Gauge;
  upgradesRefused: Counter<'status'>;
  messagesStored: Counter;
  framesSent: Counter;
  /** Frames written since start; read into framesSent at scrape time (cheaper than an inc per socket write). */
  framesWritten: { count: number };
  slowReadersClosed: Counter;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const framesWritten = { count: 0 };
  let framesReported = 0;
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  return {
    registry,
    connections: new Gauge({ name: 'parley_connections', help: 'Open WebSocket connections', registers: [registry] }),
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
  };
}

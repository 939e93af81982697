/** The scenarios' sizes: full (the issues' figures) and --quick (a smoke run for the test suite). */
import type { Contender, FanoutParams, IdleParams, LatencyParams, NodeDeathParams, RoomsParams, ScenarioName } from './types.js';

export interface Sizes {
  fanout: FanoutParams;
  latency: LatencyParams;
  idle: IdleParams;
  rooms: RoomsParams;
  'nodes-fanout': FanoutParams;
  'nodes-rooms': RoomsParams;
  'node-death': NodeDeathParams;
}

const FULL_FANOUT: FanoutParams = { receivers: 1000, publishers: 4, window: 32, dataBytes: 100, warmupMs: 1500, measureMs: 5000 };
const FULL_ROOMS: RoomsParams = { rooms: 500, roomSize: 10, window: 8, dataBytes: 100, warmupMs: 1500, measureMs: 5000 };

export const FULL: Sizes = {
  fanout: FULL_FANOUT,
  latency: { receivers: 1000, rate: 50, dataBytes: 100, warmupMs: 1000, measureMs: 5000 },
  // 35 s: the heartbeats are 30 s (Parley, ws) and 25 s (socket.io).
  idle: { connections: 10_000, roomSize: 100, concurrency: 100, burstReadMs: 2000, idleReadMs: 35_000 },
  rooms: FULL_ROOMS,
  // The same sizes on two nodes: receivers, members and publishers spread over both.
  'nodes-fanout': FULL_FANOUT,
  'nodes-rooms': FULL_ROOMS,
  'node-death': {
    clients: 2000,
    roomSize: 100,
    publishersPerRoom: 2,
    rate: 2,
    dataBytes: 100,
    concurrency: 100,
    warmupMs: 3000,
    maxRecoveryMs: 30_000,
    settleMs: 5000,
    afterMs: 1000,
  },
};

const QUICK_FANOUT: FanoutParams = { receivers: 50, publishers: 2, window: 16, dataBytes: 100, warmupMs: 300, measureMs: 1000 };
const QUICK_ROOMS: RoomsParams = { rooms: 20, roomSize: 5, window: 4, dataBytes: 100, warmupMs: 300, measureMs: 1000 };

export const QUICK: Sizes = {
  fanout: QUICK_FANOUT,
  latency: { receivers: 50, rate: 50, dataBytes: 100, warmupMs: 300, measureMs: 1000 },
  idle: { connections: 200, roomSize: 50, concurrency: 20, burstReadMs: 300, idleReadMs: 600 },
  rooms: QUICK_ROOMS,
  'nodes-fanout': QUICK_FANOUT,
  'nodes-rooms': QUICK_ROOMS,
  'node-death': {
    clients: 60,
    roomSize: 10,
    publishersPerRoom: 2,
    rate: 5,
    dataBytes: 100,
    concurrency: 20,
    warmupMs: 1000,
    maxRecoveryMs: 15_000,
    settleMs: 2000,
    afterMs: 300,
  },
};

/** Every scenario, numbered 1-7 in this order. */
export const SCENARIOS: ScenarioName[] = ['fanout', 'latency', 'idle', 'rooms', 'nodes-fanout', 'nodes-rooms', 'node-death'];

/** Who runs in each scenario: the peers and Parley on one node; Parley on PostgreSQL + Redis in 1 and 4; two of each in 5-7. */
export const CONTENDERS: Record<ScenarioName, Contender[]> = {
  fanout: ['ws', 'socketio', 'parley', 'parley-pg'],
  latency: ['ws', 'socketio', 'parley'],
  idle: ['ws', 'socketio', 'parley'],
  rooms: ['ws', 'socketio', 'parley', 'parley-pg'],
  'nodes-fanout': ['socketio', 'parley'],
  'nodes-rooms': ['socketio', 'parley'],
  'node-death': ['socketio', 'parley'],
};

export function describe(name: ScenarioName, s: Sizes): string {
  switch (name) {
    case 'fanout':
      return `1. fan-out: 1 room, ${s.fanout.receivers.toLocaleString('en')} receivers`;
    case 'latency':
      return `2. latency at ${(s.latency.rate * s.latency.receivers).toLocaleString('en')} deliveries/s`;
    case 'idle':
      return `3. ${s.idle.connections.toLocaleString('en')} idle connections`;
    case 'rooms':
      return `4. ${s.rooms.rooms} rooms of ${s.rooms.roomSize}`;
    case 'nodes-fanout':
      return `5. fan-out on two nodes: 1 room, ${s['nodes-fanout'].receivers.toLocaleString('en')} receivers`;
    case 'nodes-rooms':
      return `6. ${s['nodes-rooms'].rooms} rooms of ${s['nodes-rooms'].roomSize} on two nodes`;
    case 'node-death': {
      const d = s['node-death'];
      return `7. a node's death: ${d.clients.toLocaleString('en')} clients on two nodes behind nginx`;
    }
  }
}

/** How long a load process may take for one scenario before it is killed. */
export function timeoutMs(name: ScenarioName, quick: boolean): number {
  if (quick) return 60_000;
  return name === 'idle' || name === 'node-death' ? 240_000 : 120_000;
}

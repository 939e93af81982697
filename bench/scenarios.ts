/** The four scenarios' sizes: full (the issue's figures) and --quick (a smoke run for the test suite). */
import type { FanoutParams, IdleParams, LatencyParams, RoomsParams, ScenarioName } from './types.js';

export interface Sizes {
  fanout: FanoutParams;
  latency: LatencyParams;
  idle: IdleParams;
  rooms: RoomsParams;
}

export const FULL: Sizes = {
  fanout: { receivers: 1000, publishers: 4, window: 32, dataBytes: 100, warmupMs: 1500, measureMs: 5000 },
  latency: { receivers: 1000, rate: 50, dataBytes: 100, warmupMs: 1000, measureMs: 5000 },
  // 35 s: the heartbeats are 30 s (Parley, ws) and 25 s (socket.io).
  idle: { connections: 10_000, roomSize: 100, concurrency: 100, burstReadMs: 2000, idleReadMs: 35_000 },
  rooms: { rooms: 500, roomSize: 10, window: 8, dataBytes: 100, warmupMs: 1500, measureMs: 5000 },
};

export const QUICK: Sizes = {
  fanout: { receivers: 50, publishers: 2, window: 16, dataBytes: 100, warmupMs: 300, measureMs: 1000 },
  latency: { receivers: 50, rate: 50, dataBytes: 100, warmupMs: 300, measureMs: 1000 },
  idle: { connections: 200, roomSize: 50, concurrency: 20, burstReadMs: 300, idleReadMs: 600 },
  rooms: { rooms: 20, roomSize: 5, window: 4, dataBytes: 100, warmupMs: 300, measureMs: 1000 },
};

export const SCENARIOS: ScenarioName[] = ['fanout', 'latency', 'idle', 'rooms'];

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
  }
}

/** How long a load process may take for one scenario before it is killed. */
export function timeoutMs(name: ScenarioName, quick: boolean): number {
  if (quick) return 60_000;
  return name === 'idle' ? 240_000 : 120_000;
}

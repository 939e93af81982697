/**
 * Parley's own counters, read from each node's /metrics before and after a measured window: how
 * its store batches and how long an append takes, and on several nodes how many messages a node
 * had to read from the store because their broadcast came after a later one (a hole, filled from
 * the store) — the figures that say where a cluster's time goes, which the load cannot see.
 */
import { getText } from './http.js';
import type { Target } from './client.js';

interface Counters {
  stored: number;
  appends: number;
  appendSeconds: number;
  caughtUp: number;
}

function read(text: string, name: string): number {
  const escaped = name.replace(/[{}"=]/g, (c) => `\\${c}`);
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** The counters of every node, summed. */
export async function readCounters(nodes: Target[]): Promise<Counters> {
  const sum: Counters = { stored: 0, appends: 0, appendSeconds: 0, caughtUp: 0 };
  for (const node of nodes) {
    const text = await getText(node.host, node.port, '/metrics');
    sum.stored += read(text, 'parley_messages_stored_total');
    sum.appends += read(text, 'parley_store_seconds_count{method="appendMessages"}');
    sum.appendSeconds += read(text, 'parley_store_seconds_sum{method="appendMessages"}');
    sum.caughtUp += read(text, 'parley_messages_caught_up_total');
  }
  return sum;
}

/**
 * Over a window: messages per store append (the batch size), the mean time of an append in ms,
 * and the share of (message, node) pairs that a node filled from the store.
 */
export function counterMetrics(before: Counters, after: Counters, nodes: number): Record<string, number> {
  const stored = after.stored - before.stored;
  const appends = after.appends - before.appends;
  return {
    messagesPerAppend: stored / appends,
    appendMs: ((after.appendSeconds - before.appendSeconds) / appends) * 1000,
    ...(nodes > 1 ? { filledFromStore: (after.caughtUp - before.caughtUp) / (stored * nodes) } : {}),
  };
}

/** Reconnect delays: exponential backoff with full jitter between the minimum and the current cap. */
export interface BackoffOptions {
  /** The first delay and the floor of every delay (ms). Default 250. */
  minDelayMs?: number;
  /** The cap of every delay (ms). Default 10 000. */
  maxDelayMs?: number;
}

export const DEFAULT_MIN_DELAY_MS = 250;
export const DEFAULT_MAX_DELAY_MS = 10_000;

/**
 * The delay before reconnect attempt `attempt` (0-based): a uniform random value between `min` and
 * min(max, min·2^attempt). The floor keeps a client from hammering a server that is down; the jitter
 * keeps many clients from reconnecting in lockstep after a restart.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = Math.max(0, options.minDelayMs ?? DEFAULT_MIN_DELAY_MS);
  const max = Math.max(min, options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
  const cap = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(min + random() * (cap - min));
}

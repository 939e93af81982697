/** Reading the results: medians over runs, ratios, and how figures are written. */
import { median } from './stats.js';
import type { Contender, ScenarioName, ScenarioResult } from './types.js';

/** results[scenario][contender] = one entry per run (an Error when the run failed) */
export type Results = Partial<Record<ScenarioName, Partial<Record<Contender, (ScenarioResult | Error)[]>>>>;

export const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en') : '–');
export const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '–');
export const kb = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
export const oneDecimal = kb;
export const pct = (v: number) => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : '–');

export function ok(runs: (ScenarioResult | Error)[] | undefined): ScenarioResult[] {
  return (runs ?? []).filter((r): r is ScenarioResult => !(r instanceof Error));
}

export function value(results: Results, scenario: ScenarioName, who: Contender, key: string, fromLoad = false): number {
  return median(ok(results[scenario]?.[who]).map((r) => (fromLoad ? r.loadCpu : (r.metrics[key] ?? NaN))));
}

export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–';
  const r = a / b;
  return r >= 10 ? `${r.toFixed(1)}×` : `${r.toFixed(2)}×`;
}

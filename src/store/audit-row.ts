/** How both stores read the audit log: one row per action, with the names of those concerned. */
import { wireUser } from '../protocol/frames.js';
import type { AuditRecord, ModerationAction, ModerationOutcome, StoredRole } from './types.js';

export interface AuditRow {
  action: ModerationAction;
  user_id: number;
  user_name: string;
  /** 1/0 from SQLite, a boolean from PostgreSQL. */
  user_guest: number | boolean;
  by_id: number;
  by_name: string;
  by_guest: number | boolean;
  ts: number;
  until: number | null;
  role: StoredRole | null;
}

export function toAuditRecord(r: AuditRow): AuditRecord {
  const record: AuditRecord = { action: r.action, user: wireUser({ id: r.user_id, name: r.user_name, guest: Boolean(r.user_guest) }), by: wireUser({ id: r.by_id, name: r.by_name, guest: Boolean(r.by_guest) }), ts: r.ts };
  if (r.until !== null) record.until = r.until;
  if (r.role !== null) record.role = r.role;
  return record;
}

/** A retried action's answer, from the audit row of the first: when it was applied, and how. */
export function duplicateOf(first: Pick<AuditRow, 'ts' | 'until' | 'role'>): ModerationOutcome {
  const outcome: ModerationOutcome = { kind: 'duplicate', ts: first.ts };
  if (first.until !== null) outcome.until = first.until;
  if (first.role !== null) outcome.role = first.role;
  return outcome;
}

/** How both stores read the audit log: one row per action, with the names of those concerned. */
import type { AuditRecord, ModerationAction, StoredRole } from './types.js';

export interface AuditRow {
  action: ModerationAction;
  user_id: number;
  user_name: string;
  by_id: number;
  by_name: string;
  ts: number;
  until: number | null;
  role: StoredRole | null;
}

export function toAuditRecord(r: AuditRow): AuditRecord {
  const record: AuditRecord = { action: r.action, user: { id: r.user_id, name: r.user_name }, by: { id: r.by_id, name: r.by_name }, ts: r.ts };
  if (r.until !== null) record.until = r.until;
  if (r.role !== null) record.role = r.role;
  return record;
}

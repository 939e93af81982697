/** How both stores read moderation rows: the audit log, and bans and mutes, with the names of those concerned. */
import { wireUser } from '../protocol/frames.js';
import type { AuditRecord, ModerationAction, ModerationOutcome, RoomModeration, StoredRole, UserModeration } from './types.js';

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

/** How both stores read a user's ban or mute in a room, with who put it in force (NULL: not kept then). */
export interface RestrictionOfUserRow {
  room: string;
  kind: 'ban' | 'mute';
  until: number | null;
  by_id: number | null;
  by_name: string | null;
  /** 1/0 from SQLite, a boolean from PostgreSQL. */
  by_guest: number | boolean | null;
}

export function toRestrictionOfUser(r: RestrictionOfUserRow): UserModeration['restrictions'][number] {
  const restriction: UserModeration['restrictions'][number] = { room: r.room, kind: r.kind };
  if (r.until !== null) restriction.until = r.until;
  if (r.by_id !== null && r.by_name !== null) restriction.by = wireUser({ id: r.by_id, name: r.by_name, guest: Boolean(r.by_guest) });
  return restriction;
}

/** A ban or mute in force in a room, with the user it keeps out or quiet. */
export interface RoomRestrictionRow {
  user_id: number;
  name: string;
  /** 1/0 from SQLite, a boolean from PostgreSQL. */
  guest: number | boolean;
  kind: 'ban' | 'mute';
  until: number | null;
}

export function toRoomRestriction(r: RoomRestrictionRow): RoomModeration['restrictions'][number] {
  const user = wireUser({ id: r.user_id, name: r.name, guest: Boolean(r.guest) });
  return r.until === null ? { user, kind: r.kind } : { user, kind: r.kind, until: r.until };
}

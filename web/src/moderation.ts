/**
 * Moderation as the page reasons about it, without the server: what one's power is in a room, which
 * actions to offer on someone (the limits on power, as a convenience: the server is the judge), and
 * the words of a moderation line. Pure, so it is unit-tested.
 */
import type { ModerationRecord } from '../../src/client/index.js';
import { t } from './i18n.js';

/** A role in a room as the list frame gives it; everyone not named is a member. */
export type RoomRole = 'owner' | 'moderator';
/** One's power in a room: an admin moderates every room but DMs. */
export type Power = RoomRole | 'admin' | 'member';

export type ModAction = 'mute' | 'unmute' | 'kick' | 'ban' | 'unban' | 'promote' | 'demote';

/** The durations offered for a mute or a ban, in minutes; undefined: until lifted. */
export const DURATIONS: ReadonlyArray<number | undefined> = [10, 60, 1440, undefined];

export function powerIn(options: { admin: boolean; direct: boolean; role: RoomRole | undefined }): Power {
  if (options.direct) return 'member';
  if (options.admin) return 'admin';
  return options.role ?? 'member';
}

export function moderates(power: Power): boolean {
  return power !== 'member';
}

/**
 * The actions to offer on `target` in a room, in menu order. Nothing on oneself, on an admin, on the
 * owner (but for an admin), on a moderator (but for the owner or an admin); roles only for the owner
 * or an admin. `muted` and `banned` say which of mute/unmute and ban/unban applies.
 */
export function offeredActions(
  power: Power,
  target: { self: boolean; admin: boolean; role: RoomRole | undefined; muted: boolean; banned: boolean },
): ModAction[] {
  if (!moderates(power) || target.self || target.admin) return [];
  if (target.role === 'owner' && power !== 'admin') return [];
  if (target.role === 'moderator' && power === 'moderator') return [];
  const actions: ModAction[] = [];
  actions.push(target.muted ? 'unmute' : 'mute');
  if (!target.banned) actions.push('kick');
  actions.push(target.banned ? 'unban' : 'ban');
  if ((power === 'owner' || power === 'admin') && target.role !== 'owner') actions.push(target.role === 'moderator' ? 'demote' : 'promote');
  return actions;
}

/** A timed restriction is in force until `until`; null is until lifted; undefined is none. */
export function inForce(until: number | null | undefined, now: number): boolean {
  return until === null || (until !== undefined && until > now);
}

/** "10 minutes", "1 hour", "2 days": the largest whole unit. */
export function durationText(minutes: number): string {
  if (minutes >= 1440 && minutes % 1440 === 0) return t(minutes === 1440 ? 'dur.day' : 'dur.days', { count: minutes / 1440 });
  if (minutes >= 60 && minutes % 60 === 0) return t(minutes === 60 ? 'dur.hour' : 'dur.hours', { count: minutes / 60 });
  return t(minutes === 1 ? 'dur.minute' : 'dur.minutes', { count: minutes });
}

/** The words of a duration choice in a menu. */
export function durationChoice(minutes: number | undefined): string {
  return minutes === undefined ? t('dur.untilLifted') : durationText(minutes);
}

/** How long is left until `until`, coarsely: "9:41", "1:05:00", "3 days". */
export function timeLeft(until: number, now: number): string {
  const seconds = Math.max(0, Math.ceil((until - now) / 1000));
  if (seconds >= 2 * 86_400) return t('dur.days', { count: Math.floor(seconds / 86_400) });
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** What a moderator did, as a line of the room or an entry of the audit log. */
export type ModerationEntry = Omit<ModerationRecord, 'room'>;

/** "mia muted sam for 10 minutes", "olga made bob a moderator"; the user reading is "you". */
export function moderationText(entry: ModerationEntry, meId: number | undefined): string {
  const user = entry.user.id === meId ? t('mod.you') : entry.user.name;
  const by = entry.by.id === meId ? t('mod.youSubject') : entry.by.name;
  const minutes = entry.until === undefined ? undefined : Math.round((entry.until - entry.ts) / 60_000);
  const params = { by, user, duration: minutes === undefined ? '' : durationText(minutes) };
  switch (entry.action) {
    case 'kick':
      return t('mod.kick', params);
    case 'ban':
      return t(minutes === undefined ? 'mod.ban' : 'mod.banFor', params);
    case 'unban':
      return t('mod.unban', params);
    case 'mute':
      return t(minutes === undefined ? 'mod.mute' : 'mod.muteFor', params);
    case 'unmute':
      return t('mod.unmute', params);
    case 'role':
      return t(entry.role === 'moderator' ? 'mod.promote' : 'mod.demote', params);
    case 'delete':
      return t('mod.delete', params);
  }
}

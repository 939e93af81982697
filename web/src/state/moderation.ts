/**
 * Moderation in the page: who moderates which room, who is muted or banned (the user among them),
 * the moderation frames as lines of the room, a kick or a ban of the user, the actions a moderator
 * takes and the audit log. The server is the judge; this only keeps what it said.
 */
import { moderation as api, type BannedNow, type ClientEvents, type WelcomeFrame } from '../../../src/client/index.js';
import { nameKey } from '../../../src/protocol/names.js';
import { t } from '../i18n.js';
import { compareNames } from '../order.js';
import { inForce, powerIn, type ModAction, type ModerationEntry, type Power, type RoomRole } from '../moderation.js';
import { DEFAULT_ROOM, origin, state, type BannedUser, type Restriction, type RoomView } from './chat-state.js';
import { joinRoom } from './actions.js';
import { chatClient, forgetSubscription } from './connection.js';
import { refusalWithReason, showNotice } from './notice.js';
import { markLeft } from './prefs.js';
import { nextKey, roomTitle, roomView } from './rooms.js';

/** Bans of the user that a "Try again" is testing, by room. */
const triedBans = new Map<string, Restriction>();

/**
 * The user's power in a room: owner, moderator, admin (every room but DMs) or member. A moderator or
 * owner banned from the room moderates it no more while the ban lasts (the server refuses them its
 * audit log and every action), so the page offers none.
 */
export function myPower(view: RoomView): Power {
  const role = joinBlocked(view.name) ? undefined : state.myRoles[view.name];
  return powerIn({ admin: state.admin, direct: view.direct, role });
}

/** The user's mute in the room, while it is in force. */
export function myMute(room: string): Restriction | undefined {
  const mute = state.myMutes[room];
  return mute && (mute.until === undefined || inForce(mute.until, state.now)) ? mute : undefined;
}

/** The user's ban from the room as last known; one that ended stays until the room is joined again (see banEnded). */
export function myBan(room: string): Restriction | undefined {
  return state.myBans[room];
}

/** A timed ban of the user that has ended: the room may be joined again. */
export function banEnded(room: string): boolean {
  const ban = state.myBans[room];
  return !!ban && typeof ban.until === 'number' && ban.until <= state.now;
}

/** Blocks a join: a ban the page knows of and that has not ended. */
export function joinBlocked(room: string): boolean {
  return !!state.myBans[room] && !banEnded(room);
}

export function onWelcome(frame: WelcomeFrame): void {
  state.admin = frame.admin === true;
  state.adminKeys = (frame.admins ?? []).map(nameKey);
  state.myRoles = { ...(frame.roles ?? {}) };
  // The welcome says where the user is muted or banned now, and by whom: anything else was lifted
  // meanwhile.
  state.myMutes = restrictions(frame.muted, frame.mutedBy, state.myMutes);
  state.myBans = restrictions(frame.banned, frame.bannedBy, state.myBans);
}

function restrictions(
  now: Record<string, number | null> | undefined,
  by: Record<string, { name: string }> | undefined,
  known: Record<string, Restriction>,
): Record<string, Restriction> {
  return Object.fromEntries(
    Object.entries(now ?? {}).map(([room, until]) => {
      const who = by?.[room]?.name ?? known[room]?.by;
      return [room, who === undefined ? { ...known[room], until } : { ...known[room], by: who, until }];
    }),
  );
}

export function onList(view: RoomView, list: ClientEvents['list']): void {
  view.roles = numericKeys(list.roles ?? {});
  view.mutes = numericKeys(list.muted ?? {});
  view.bans = byUser(list.banned ?? []);
  const me = state.me?.id ?? 0;
  const role = view.roles[me];
  if (role) state.myRoles[view.name] = role;
  else delete state.myRoles[view.name];
  if (view.mutes[me] !== undefined) state.myMutes[view.name] = { ...state.myMutes[view.name], until: view.mutes[me] };
  else delete state.myMutes[view.name];
}

function byUser(banned: BannedNow): Record<number, BannedUser> {
  return Object.fromEntries(banned.map((b) => [b.user.id, b]));
}

function numericKeys<T>(record: Record<string, T>): Record<number, T> {
  return Object.fromEntries(Object.entries(record).map(([id, v]) => [Number(id), v]));
}

/** What a moderator did in a room the user follows: a line in the room, and the room's roles, mutes and bans. */
export function onModeration(frame: ClientEvents['moderation']): void {
  const view = state.rooms[frame.room];
  if (!view) return;
  const entry: ModerationEntry = { action: frame.action, user: frame.user, by: frame.by, ts: frame.ts };
  if (frame.until !== undefined) entry.until = frame.until;
  if (frame.role !== undefined) entry.role = frame.role;
  view.lines.push({ key: nextKey(), kind: 'moderation', entry, ts: frame.ts, afterId: view.latestId });
  state.names[frame.user.id] = frame.user.name;
  applyEntry(view, entry);
  const me = state.me?.id;
  if (frame.user.id !== me) return;
  if (frame.action === 'mute') state.myMutes[frame.room] = { by: frame.by.name, until: frame.until ?? null };
  if (frame.action === 'unmute') delete state.myMutes[frame.room];
  if (frame.action === 'role') {
    if (frame.role === 'moderator') {
      state.myRoles[frame.room] = 'moderator';
      // The room's list told a member nothing of its bans: a new moderator asks.
      void refreshBans(frame.room);
    } else delete state.myRoles[frame.room];
  }
}

/** Asks the server who is banned from the room now (for those who moderate it). */
export async function refreshBans(room: string): Promise<void> {
  const banned = await api.bans(origin, room).catch(() => undefined);
  const view = state.rooms[room];
  if (view && banned) view.bans = byUser(banned);
}

/** A live action changes who is muted, banned or a moderator. */
function applyEntry(view: RoomView, entry: ModerationEntry): void {
  const id = entry.user.id;
  if (entry.action === 'mute') view.mutes[id] = entry.until ?? null;
  if (entry.action === 'unmute') delete view.mutes[id];
  if (entry.action === 'ban') view.bans[id] = { user: entry.user, until: entry.until ?? null };
  if (entry.action === 'unban') delete view.bans[id];
  if (entry.action === 'role') {
    if (entry.role === 'moderator') view.roles[id] = 'moderator';
    else if (view.roles[id] === 'moderator') delete view.roles[id];
  }
}

/** A moderator took the user out of the room: it is left here too (it can be joined again, unless private). */
export function onKicked({ room, by }: ClientEvents['kicked']): void {
  const view = roomView(room);
  leaveLocally(view);
  view.removedBy = by.name;
  // The room on screen says so in place of its messages; another is told in the notice line.
  if (state.current !== room) showNotice(t('kickedNotice', { by: by.name, room: roomTitle(room) }));
}

/**
 * The user was banned from the room: it stays in their list, marked closed, and shows why in place of
 * its messages (they may leave it there), as it does after a reload (the welcome's `banned`).
 */
export function onBanned({ room, by, until }: ClientEvents['banned']): void {
  state.myBans[room] = { by: by.name, until: until ?? null };
  closeLocally(roomView(room));
  if (state.current !== room) showNotice(t('banned.title', { room: roomTitle(room) }));
}

/** The room's connection here is gone (the server took the user out): no presence, no typing, no menu. */
function closeLocally(view: RoomView): void {
  forgetSubscription(view.name);
  view.online = [];
  view.typing = {};
  if (state.moderating?.room === view.name) state.moderating = null;
  // A banned moderator reads its audit log no more: the open log closes, and does not come back.
  if (state.current === view.name) state.auditOpen = false;
}

/** Closed, and out of the user's list (a kick): it is joined again from "Other rooms". */
function leaveLocally(view: RoomView): void {
  closeLocally(view);
  if (view.name !== DEFAULT_ROOM && !view.direct) {
    view.member = false;
    markLeft(view.name, view.private);
  }
}

/** The server refused something in a room with `banned` or `muted`: the page learns it so (until unknown). */
export function noteRefusal(room: string | undefined, code: string): void {
  if (room === undefined) return;
  if (code === 'banned' && !state.myBans[room]) {
    state.myBans[room] = triedBans.get(room) ?? {};
    closeLocally(roomView(room));
  }
  if (code === 'muted' && !myMute(room)) state.myMutes[room] = {};
}

/** Joins a room again after a kick, or a ban that ended or may have been lifted (a refusal says it was not). */
export async function joinAgain(room: string): Promise<void> {
  const view = roomView(room);
  view.removedBy = undefined;
  const ban = state.myBans[room];
  // Refused again: the ban as it was known comes back with the refusal.
  if (ban && !banEnded(room)) triedBans.set(room, ban);
  else triedBans.delete(room);
  delete state.myBans[room];
  view.loaded = false;
  await joinRoom(room);
}

/** Takes a moderation action on a user of the room; resolves to the refusal's words, or ''. */
export async function moderate(room: string, userId: number, action: ModAction, minutes?: number): Promise<string> {
  const client = chatClient();
  if (!client) return '';
  const options = minutes === undefined ? {} : { minutes };
  try {
    if (action === 'mute') await client.mute(room, userId, options);
    else if (action === 'unmute') await client.unmute(room, userId);
    else if (action === 'kick') await client.kick(room, userId);
    else if (action === 'ban') await client.ban(room, userId, options);
    else if (action === 'unban') await client.unban(room, userId);
    else await client.setRole(room, userId, action === 'promote' ? 'moderator' : 'member');
    return '';
  } catch (err) {
    return refusalWithReason(err);
  }
}

/** The room's audit log, newest first (who is banned now comes from the list, not from it). */
export async function loadAudit(room: string): Promise<ModerationEntry[]> {
  return api.audit(origin, room);
}

/** Whether the user is muted or banned in the room now, as the people list marks them. */
export function isMuted(view: RoomView, userId: number): boolean {
  return inForce(view.mutes[userId], state.now);
}

export function isBanned(view: RoomView, userId: number): boolean {
  return inForce(view.bans[userId]?.until, state.now);
}

/** Who is banned from the room now, by name (a timed ban drops out when it ends, on the page's clock). */
export function bannedNow(view: RoomView): BannedUser[] {
  return Object.values(view.bans)
    .filter((b) => inForce(b.until, state.now))
    .sort((a, b) => compareNames(a.user.name, b.user.name) || a.user.id - b.user.id);
}

/** Whether the user is one of the server's admins: a registered account named in ADMINS. */
export function isAdminUser(user: { id: number; name: string; guest?: boolean }): boolean {
  if (user.id === state.me?.id) return state.admin;
  return !user.guest && state.adminKeys.includes(nameKey(user.name));
}

/** The person's role in the room: an admin in every room but DMs. */
export function roleOf(view: RoomView, user: { id: number; name: string; guest?: boolean }): RoomRole | 'admin' | undefined {
  if (!view.direct && isAdminUser(user)) return 'admin';
  return view.roles[user.id];
}

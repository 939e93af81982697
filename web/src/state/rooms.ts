/**
 * The rooms as the page shows them: one RoomView per room, its messages once each and in id order
 * with their edits, deletions and reactions folded in (a Timeline per room, so live events and
 * history pages fold alike), who is there and typing, and what is unread. Nothing here talks to the
 * server.
 */
import { Timeline, type ChatMessage, type HistoryResult, type RoomInfo, type TimelineEventFrame } from '../../../src/client/index.js';
import { t } from '../i18n.js';
import { compareNames } from '../order.js';
import { unreadCounts, type UnreadCounts } from '../unread.js';
import { state, type RoomView, type User } from './chat-state.js';

const TYPING_SHOWN_MS = 5_000;

/** Each room's timeline: outside the reactive state (a Timeline keeps private fields), copied into view.messages on change. */
const timelines = new Map<string, Timeline>();
/** Read markers the server told before the room's view was made. */
const serverReads = new Map<string, number>();
let lastKey = 0;

function timelineOf(room: string): Timeline {
  let timeline = timelines.get(room);
  if (!timeline) timelines.set(room, (timeline = new Timeline(room)));
  return timeline;
}

/** The message `id` of `room`, if the page holds it. */
export function messageById(room: string, id: number): ChatMessage | undefined {
  return timelines.get(room)?.get(id);
}

/** A key for an item of a message list (a presence line, a pending message), unique in the page. */
export function nextKey(): number {
  return ++lastKey;
}

/** Forgets every room (signing out, or another user signing in). */
export function resetRooms(): void {
  timelines.clear();
  serverReads.clear();
  state.rooms = {};
  state.names = {};
  state.editing = null;
  state.picking = null;
  state.searching = false;
  state.admin = false;
  state.adminKeys = [];
  state.myRoles = {};
  state.myMutes = {};
  state.myBans = {};
  state.moderating = null;
  state.auditOpen = false;
}

export function isDirect(name: string): boolean {
  return name.startsWith('dm:');
}

/** The other user of a DM room. */
export function dmPartner(room: string): number | undefined {
  const ids = room.split(':').slice(1).map(Number);
  const other = ids.find((id) => id !== state.me?.id);
  return other ?? ids[0];
}

export function roomTitle(room: string): string {
  if (!isDirect(room)) return room;
  const other = dmPartner(room);
  if (other === undefined) return room;
  return state.names[other] ?? t('unknownUser', { id: other });
}

export function currentRoom(): RoomView | undefined {
  return state.rooms[state.current];
}

/** The view of a room, made on first sight; `info` from the server's room list updates it. */
export function roomView(name: string, info?: Partial<RoomInfo>): RoomView {
  let view = state.rooms[name];
  if (!view) {
    const latestId = info?.lastId ?? 0;
    const read = serverReads.get(name);
    state.rooms[name] = {
      name,
      private: info?.private ?? isDirect(name),
      direct: info?.direct ?? isDirect(name),
      member: false,
      exists: info !== undefined,
      messages: [],
      lines: [],
      pending: [],
      online: [],
      onlineStale: false,
      typing: {},
      latestId,
      // A room never read before has nothing unread (its past is history, not news), except a
      // conversation someone started with the user while they were away.
      lastRead: read ?? (isDirect(name) ? 0 : latestId),
      completeFrom: Infinity,
      mentionIds: [],
      divider: undefined,
      replyTo: undefined,
      focus: undefined,
      flashId: undefined,
      loaded: false,
      more: true,
      loadingOlder: false,
      gap: false,
      rewoundTo: undefined,
      draft: '',
      roles: {},
      mutes: {},
      bans: {},
      removedBy: undefined,
    };
    view = state.rooms[name]!;
  } else if (info) {
    view.exists = true;
    view.private = info.private ?? view.private;
    view.direct = info.direct ?? view.direct;
    if (info.lastId !== undefined && info.lastId > view.latestId) view.latestId = info.lastId;
  }
  return view;
}

/** The read marker went up (here, or on another connection of the user's); it never goes down. */
export function setRead(room: string, id: number): void {
  const view = state.rooms[room];
  if (!view) serverReads.set(room, Math.max(id, serverReads.get(room) ?? 0));
  else if (id > view.lastRead) view.lastRead = id;
}

export function unread(view: RoomView): UnreadCounts {
  return unreadCounts({
    messages: view.messages,
    lastRead: view.lastRead,
    latestId: view.latestId,
    me: state.me?.id ?? 0,
    completeFrom: view.completeFrom,
    mentionIds: view.mentionIds,
  });
}

/** A message, or an edit, delete or react event, delivered by the client (or made from an ack). */
export function applyEntry(view: RoomView, entry: ChatMessage | TimelineEventFrame): void {
  if (entry.id > view.latestId) view.latestId = entry.id;
  state.names[entry.user.id] = entry.user.name;
  const timeline = timelineOf(view.name);
  const changed = timeline.apply(entry);
  if (changed === undefined) return;
  view.messages = [...timeline.messages];
  if (changed.deleted) {
    if (state.editing?.room === view.name && state.editing.id === changed.id) state.editing = null;
    if (view.replyTo === changed.id) view.replyTo = undefined;
  }
}

/** A page of history: its messages in their state when it was read, later events folded in again. */
export function addPage(view: RoomView, page: HistoryResult): void {
  const timeline = timelineOf(view.name);
  timeline.add(page);
  view.messages = [...timeline.messages];
  for (const m of page.data) state.names[m.user.id] = m.user.name;
  if (page.lastId !== undefined && page.lastId > view.latestId) view.latestId = page.lastId;
  const oldest = page.data[0]?.id;
  const from = page.more && oldest !== undefined ? oldest : 0;
  if (from < view.completeFrom) view.completeFrom = from;
}

/** Live delivery starts after `id`: from there on the page gets every message. */
export function noteLiveFrom(view: RoomView, id: number): void {
  if (id + 1 < view.completeFrom) view.completeFrom = id + 1;
}

/** The server said message `id` names the user. */
export function noteMention(view: RoomView, id: number): void {
  if (!view.mentionIds.includes(id)) view.mentionIds.push(id);
}

/**
 * The room's history on the server ends at `lastId`: the messages after it are gone, and new ones
 * reuse their ids, so they are dropped here too, or a new message would be taken for one already shown.
 */
export function rewind(view: RoomView, lastId: number): void {
  const timeline = timelineOf(view.name);
  const kept = timeline.messages.filter((m) => m.id <= lastId);
  timeline.clear();
  timeline.add({ data: kept, lastId });
  view.messages = [...timeline.messages];
  view.mentionIds = view.mentionIds.filter((id) => id <= lastId);
  view.latestId = lastId;
  if (view.lastRead > lastId) view.lastRead = lastId;
  view.gap = false;
  view.rewoundTo = lastId;
}

export function addLine(view: RoomView, kind: 'join' | 'left', user: User): void {
  // In a conversation of two, comings and goings are noise; the people list shows them.
  if (view.direct) return;
  view.lines.push({ key: nextKey(), kind, user: { id: user.id, name: user.name }, ts: Date.now(), afterId: view.latestId });
  // Presence lines are a live log, not history: keep the last few hundred.
  if (view.lines.length > 300) view.lines.splice(0, view.lines.length - 300);
}

export function showTyping(view: RoomView, user: User): void {
  view.typing[user.id] = { name: user.name, until: Date.now() + TYPING_SHOWN_MS };
}

export function expireTyping(): void {
  const now = Date.now();
  for (const view of Object.values(state.rooms)) {
    for (const [id, entry] of Object.entries(view.typing)) {
      if (entry.until <= now) delete view.typing[Number(id)];
    }
  }
}

/** Everyone this page has seen online in any room, except the user. */
export function knownUsers(): User[] {
  const byId = new Map<number, User>();
  for (const view of Object.values(state.rooms)) for (const u of view.online) byId.set(u.id, u);
  byId.delete(state.me?.id ?? 0);
  return [...byId.values()].sort((a, b) => compareNames(a.name, b.name));
}

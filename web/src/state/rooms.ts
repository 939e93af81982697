/**
 * The rooms as the page shows them: one RoomView per room, its messages once each and in id order,
 * who is there and typing, and what is unread. Nothing here talks to the server.
 */
import type { ChatMessage, RoomInfo } from '../../../src/client/index.js';
import { t } from '../i18n.js';
import { compareNames } from '../order.js';
import { state, type RoomView, type User } from './chat-state.js';
import { readMark, setReadMark } from './prefs.js';

const TYPING_SHOWN_MS = 5_000;

/** Message ids present per room: a second copy of a message is never shown. */
const seen = new Map<string, Set<number>>();
let lastKey = 0;

/** A key for an item of a message list (a presence line, a pending message), unique in the page. */
export function nextKey(): number {
  return ++lastKey;
}

/** Forgets every room (signing out, or another user signing in). */
export function resetRooms(): void {
  seen.clear();
  state.rooms = {};
  state.names = {};
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
    const read = readMark(name);
    view = {
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
      // A room never seen before has nothing unread (its past is history, not news), except a
      // conversation someone started with the user while they were away.
      lastRead: read ?? (isDirect(name) ? 0 : latestId),
      loaded: false,
      more: true,
      loadingOlder: false,
      gap: false,
      rewoundTo: undefined,
      draft: '',
    };
    state.rooms[name] = view;
    view = state.rooms[name]!;
    if (read === undefined) setRead(view, view.lastRead);
  } else if (info) {
    view.exists = true;
    view.private = info.private ?? view.private;
    view.direct = info.direct ?? view.direct;
    if (info.lastId !== undefined && info.lastId > view.latestId) view.latestId = info.lastId;
  }
  return view;
}

export function setRead(view: RoomView, id: number): void {
  if (id <= view.lastRead && readMark(view.name) !== undefined) return;
  view.lastRead = id;
  setReadMark(view.name, id);
}

export function unread(view: RoomView): number {
  return Math.max(0, view.latestId - view.lastRead);
}

export function markReadIfVisible(view: RoomView): void {
  if (state.current === view.name && typeof document !== 'undefined' && !document.hidden) {
    setRead(view, view.latestId);
  }
}

/** Adds a message unless it is already shown, in id order. */
export function insertMessage(view: RoomView, m: ChatMessage): void {
  let ids = seen.get(view.name);
  if (!ids) seen.set(view.name, (ids = new Set()));
  if (ids.has(m.id)) return;
  ids.add(m.id);
  const list = view.messages;
  // Messages mostly arrive at the end; older pages go to the front.
  let i = list.length;
  while (i > 0 && list[i - 1]!.id > m.id) i--;
  list.splice(i, 0, m);
  if (m.id > view.latestId) view.latestId = m.id;
  state.names[m.user.id] = m.user.name;
}

/**
 * The room's history on the server ends at `lastId`: the messages after it are gone, and new ones
 * reuse their ids, so they are dropped here too, or a new message would be taken for one already shown.
 */
export function rewind(view: RoomView, lastId: number): void {
  view.messages = view.messages.filter((m) => m.id <= lastId);
  const ids = seen.get(view.name);
  if (ids) for (const id of [...ids]) if (id > lastId) ids.delete(id);
  view.latestId = lastId;
  if (view.lastRead > lastId) {
    view.lastRead = lastId;
    setReadMark(view.name, lastId);
  }
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

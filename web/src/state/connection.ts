/**
 * The page's one ParleyClient (src/client): it owns the WebSocket, reconnects, rejoins with `after`
 * and hands each room's messages over once, in id order. This module creates it at sign-in, turns
 * its events into room state, keeps the subscriptions and the room list, and loads history pages.
 */
import { ParleyClient, listRooms, type RoomInfo, type TimelineEventFrame } from '../../../src/client/index.js';
import { t } from '../i18n.js';
import { DEFAULT_ROOM, origin, state, type RoomView } from './chat-state.js';
import { errorText, showNotice } from './notice.js';
import { notifyMention } from './notify.js';
import { isHidden, isJoined, unhide } from './prefs.js';
import {
  addLine,
  addPage,
  applyEntry,
  dmPartner,
  expireTyping,
  isDirect,
  messageById,
  noteLiveFrom,
  noteMention,
  rewind,
  roomTitle,
  roomView,
  setRead,
  showTyping,
} from './rooms.js';

const PAGE = 50;
/** How many older pages a jump to a message (a quote, a search result) may load: 100 × 100 messages back. */
const JUMP_PAGES = 100;
const JUMP_PAGE = 100;
const FLASH_MS = 2_000;
const TYPING_SENT_EVERY_MS = 2_500;

let client: ParleyClient | undefined;
let offs: Array<() => void> = [];
/** Rooms this client asked the SDK to join (the SDK rejoins them after every reconnect). */
const subscribed = new Set<string>();
const lastTypingSent = new Map<string, number>();
let typingTimer: ReturnType<typeof setInterval> | undefined;
let syncRetry: ReturnType<typeof setTimeout> | undefined;

/** The client of the signed-in user, if any. */
export function chatClient(): ParleyClient | undefined {
  return client;
}

/** Connects as the signed-in user; `onSessionEnded` runs when the server no longer takes the session. */
export function connect(onSessionEnded: () => void): void {
  const c = new ParleyClient({ url: origin });
  client = c;

  offs.push(
    c.on('welcome', (frame) => {
      state.me = frame.user;
      for (const [room, id] of Object.entries(frame.read ?? {})) setRead(room, id);
      void syncRooms(frame.rooms);
    }),
    c.on('chat', (m) => {
      const view = roomView(m.room);
      if (isDirect(m.room)) view.exists = true;
      // A DM room the server subscribed us to with this message: everything from here on comes.
      if (!subscribed.has(m.room)) noteLiveFrom(view, m.id - 1);
      applyEntry(view, m);
      delete view.typing[m.user.id];
      // A DM from someone, or a private room left earlier and written to again.
      if (!view.member) unhide(m.room);
      subscribe(view);
      markReadIfVisible(view);
    }),
    c.on('edit', (e) => onEvent(e)),
    c.on('delete', (e) => onEvent(e)),
    c.on('react', (e) => onEvent(e)),
    // Read in another tab or on another device: the counts here agree.
    c.on('read', ({ room, id }) => setRead(room, id)),
    c.on('mention', ({ room, id, user }) => {
      noteMention(roomView(room), id);
      notifyMention(roomTitle(room), user.name, messageById(room, id)?.data ?? '', `${room}#${id}`);
    }),
    c.on('join', ({ room, user }) => {
      const view = state.rooms[room];
      if (!view) return;
      state.names[user.id] = user.name;
      if (!view.online.some((u) => u.id === user.id)) view.online.push({ ...user });
      if (user.id !== state.me?.id) addLine(view, 'join', user);
    }),
    c.on('left', ({ room, user }) => {
      const view = state.rooms[room];
      if (!view) return;
      view.online = view.online.filter((u) => u.id !== user.id);
      delete view.typing[user.id];
      if (user.id !== state.me?.id) addLine(view, 'left', user);
    }),
    c.on('list', ({ room, data }) => {
      const view = state.rooms[room];
      if (!view) return;
      view.online = data.map((u) => ({ ...u }));
      view.onlineStale = false;
      for (const u of data) state.names[u.id] = u.name;
    }),
    // A new public room, or one we were added to: the list shows it at once, without a refresh.
    c.on('room', () => void refreshRooms()),
    c.on('typing', ({ room, user }) => {
      const view = state.rooms[room];
      if (!view || user.id === state.me?.id) return;
      showTyping(view, user);
    }),
    c.on('history_gap', ({ room }) => {
      const view = state.rooms[room];
      // A rewind comes with a history_gap error too; its own event says more.
      if (view && view.rewoundTo === undefined) view.gap = true;
    }),
    c.on('rewound', ({ room, lastId }) => {
      const view = state.rooms[room];
      if (view) rewind(view, lastId);
    }),
    c.on('error', (err) => {
      // Errors of a send reject its promise and show on the message; gaps have their own line.
      if (err.cid || err.code === 'history_gap') return;
      showNotice(err.message);
    }),
    c.on('state', (s) => {
      state.connection = s.state;
      state.reconnectDelayMs = s.delayMs ?? 0;
      // Who is here is unknown while away: the last list stays, marked stale, until each room's
      // `list` after the rejoin says it again. An empty list would say that everyone left.
      if (s.state === 'reconnecting' || s.state === 'closed') for (const view of Object.values(state.rooms)) view.onlineStale = true;
    }),
    c.on('closed', (info) => {
      state.connection = 'closed';
      // 401: the session is gone (signed out elsewhere, expired): back to the sign-in page.
      if (client === c && info.code === 401) onSessionEnded();
    }),
  );

  typingTimer = setInterval(expireTyping, 1_000);
  c.connect();
}

function onEvent(event: TimelineEventFrame): void {
  const view = state.rooms[event.room];
  if (!view) return;
  applyEntry(view, event);
  markReadIfVisible(view);
}

/**
 * Marks the room read up to its newest id when the user sees it: it is on screen (not behind the
 * search panel), the tab is shown and the list is scrolled to its end. The first time in a visit also places the "new messages"
 * divider at the read marker, if anything was unread.
 */
export function markReadIfVisible(view: RoomView): void {
  if (state.current !== view.name || state.searching || !state.atBottom || typeof document === 'undefined' || document.hidden) return;
  if (view.divider === undefined) view.divider = view.latestId > view.lastRead ? view.lastRead : null;
  if (view.latestId <= view.lastRead) return;
  view.lastRead = view.latestId;
  client?.markRead(view.name, view.latestId);
}

/** Closes the connection and forgets what it was subscribed to. */
export function disconnect(): void {
  for (const off of offs) off();
  offs = [];
  client?.close();
  client = undefined;
  subscribed.clear();
  lastTypingSent.clear();
  clearInterval(typingTimer);
  clearTimeout(syncRetry);
}

/**
 * Subscribes to a room once per client. `after` is the last id the page knows of (from the room
 * list or the messages shown), so the server replays anything newer and the SDK's cursor starts
 * there: after every reconnect it rejoins with the last id it delivered, and nothing is missed.
 */
export function subscribe(view: RoomView): void {
  view.member = true;
  if (!client || subscribed.has(view.name) || !view.exists) return;
  subscribed.add(view.name);
  noteLiveFrom(view, view.latestId);
  // A DM room the server subscribed us to on its first message is already tracked by the SDK.
  if (!client.joinedRooms.includes(view.name)) client.join(view.name, { after: view.latestId });
}

export function unsubscribe(name: string): void {
  if (subscribed.delete(name)) client?.leave(name);
}

/** Tells the room that the user is typing, at most every few seconds. */
export function signalTyping(room: string): void {
  if (!client) return;
  const now = Date.now();
  if (now - (lastTypingSent.get(room) ?? 0) < TYPING_SENT_EVERY_MS) return;
  lastTypingSent.set(room, now);
  client.typing(room);
}

/** The user sent their message: the next keystroke may say "typing" again at once. */
export function typingEnded(room: string): void {
  lastTypingSent.delete(room);
}

/** Builds the sidebar from the server's room list and subscribes to the rooms the user is in. */
async function syncRooms(welcomeRooms: readonly string[]): Promise<void> {
  let infos: RoomInfo[];
  try {
    infos = await listRooms(origin);
  } catch {
    // Without each room's last id a join would replay everything: try again shortly.
    clearTimeout(syncRetry);
    syncRetry = setTimeout(() => void refreshRooms(), 3_000);
    for (const name of welcomeRooms) roomView(name);
    return;
  }
  for (const info of infos) {
    const view = roomView(info.name, info);
    const wanted =
      info.name === DEFAULT_ROOM || (info.private || info.direct ? !isHidden(info.name) : isJoined(info.name));
    if (wanted) subscribe(view);
  }
  subscribe(roomView(DEFAULT_ROOM, infos.find((r) => r.name === DEFAULT_ROOM) ?? { name: DEFAULT_ROOM }));
  for (const view of Object.values(state.rooms)) {
    if (!view.member) continue;
    // What is unread is counted from the messages themselves (edits take ids too); a DM partner's
    // name comes from the conversation itself.
    const unreadUnknown = view.latestId > view.lastRead && view.completeFrom > view.lastRead + 1;
    if (unreadUnknown || (view.direct && state.names[dmPartner(view.name) ?? 0] === undefined)) void loadLatest(view);
  }
  const current = state.rooms[state.current];
  if (!current || !current.member) await openRoom(DEFAULT_ROOM);
  else await loadLatest(current);
}

/** Refreshes the list of rooms (new public rooms, rooms the user was invited to). */
export async function refreshRooms(): Promise<void> {
  if (!client) return;
  await syncRooms(client.rooms);
}

/** Shows a room: subscribes to it, makes it the current one and loads its latest messages. */
export async function openRoom(name: string): Promise<void> {
  const view = state.rooms[name] ?? roomView(name);
  subscribe(view);
  const previous = state.rooms[state.current];
  // The divider belongs to one visit: it is placed again when the room is next opened.
  if (previous && previous !== view) previous.divider = undefined;
  if (state.current !== name) state.atBottom = true;
  state.current = name;
  state.panel = 'none';
  state.searching = false;
  markReadIfVisible(view);
  await loadLatest(view);
}

/** Loads in flight, by room: a second caller waits for the same one. */
const latestLoads = new Map<string, Promise<void>>();
const olderLoads = new Map<string, Promise<void>>();

function once(loads: Map<string, Promise<void>>, room: string, load: () => Promise<void>): Promise<void> {
  const running = loads.get(room);
  if (running) return running;
  const started = load().finally(() => loads.delete(room));
  loads.set(room, started);
  return started;
}

function loadLatest(view: RoomView): Promise<void> {
  return once(latestLoads, view.name, () => loadLatestNow(view));
}

async function loadLatestNow(view: RoomView): Promise<void> {
  if (!client || view.loaded) return;
  if (!view.exists) {
    view.loaded = true;
    view.more = false;
    return;
  }
  view.loaded = true;
  try {
    const page = await client.history(view.name, { limit: PAGE });
    addPage(view, page);
    view.more = page.more;
    markReadIfVisible(view);
  } catch (err) {
    view.loaded = false;
    showNotice(errorText(err));
  }
}

export function loadOlder(name: string, limit = PAGE): Promise<void> {
  return once(olderLoads, name, () => loadOlderNow(name, limit));
}

async function loadOlderNow(name: string, limit: number): Promise<void> {
  const view = state.rooms[name];
  if (!client || !view || !view.more || !view.loaded) return;
  const oldest = view.messages[0]?.id;
  if (oldest === undefined) {
    view.more = false;
    return;
  }
  view.loadingOlder = true;
  try {
    const page = await client.history(name, { before: oldest, limit });
    addPage(view, page);
    view.more = page.more && page.data.length > 0;
  } catch (err) {
    showNotice(errorText(err));
  } finally {
    view.loadingOlder = false;
  }
}

/**
 * Opens the room of message `id` and brings the message into view (a quote or a search result was
 * clicked), loading older pages until it is there; the message list scrolls to it and flashes it.
 */
export async function showMessage(room: string, id: number): Promise<void> {
  if (state.current !== room) await openRoom(room);
  const view = state.rooms[room];
  if (!view) return;
  const seq = (view.focus?.seq ?? 0) + 1;
  view.focus = { id, seq, ready: false };
  await loadLatest(view);
  for (let pages = 0; pages < JUMP_PAGES && !messageById(room, id) && view.more; pages++) {
    const oldest = view.messages[0]?.id;
    if (oldest !== undefined && oldest < id) break;
    await loadOlder(room, JUMP_PAGE);
  }
  if (view.focus?.seq !== seq) return;
  if (!messageById(room, id)) {
    view.focus = undefined;
    showNotice(t('messageGone'));
    return;
  }
  view.focus.ready = true;
}

/** Shows message `id` highlighted for a moment (called once it is scrolled into view). */
export function flash(view: RoomView, id: number): void {
  view.flashId = id;
  setTimeout(() => {
    if (view.flashId === id) view.flashId = undefined;
  }, FLASH_MS);
}

/**
 * The state of the page and everything that changes it. Components read `state` and call the
 * actions below; only this module talks to the SDK (src/client), which owns the WebSocket,
 * reconnects, rejoins with `after` and hands each room's messages over once, in id order.
 */
import { reactive } from 'vue';
import {
  ParleyClient,
  ParleyError,
  ParleyHttpError,
  addMember,
  createRoom as apiCreateRoom,
  listRooms,
  logout as apiLogout,
  me as fetchMe,
  signIn,
  type ChatMessage,
  type RoomInfo,
} from '../../src/client/index.js';
import { refusalText, t } from './i18n.js';
import { compareNames } from './order.js';

export interface User {
  id: number;
  name: string;
}
export interface Self extends User {
  guest: boolean;
}

/** A join or leave line in the message list, placed after the message `afterId`. */
export interface PresenceLine {
  key: number;
  kind: 'join' | 'left';
  user: User;
  ts: number;
  afterId: number;
}

/** A message typed here and not acknowledged yet (or refused). */
export interface PendingMessage {
  key: number;
  text: string;
  ts: number;
  status: 'pending' | 'failed';
  error?: string;
  /** The server's error code when it refused the message (`too_large`, `forbidden`…). */
  code?: string;
}

export interface RoomView {
  name: string;
  private: boolean;
  direct: boolean;
  /** Shown in the sidebar and subscribed. */
  member: boolean;
  /** Known to exist on the server (a DM room exists only after its first message). */
  exists: boolean;
  messages: ChatMessage[];
  lines: PresenceLine[];
  pending: PendingMessage[];
  online: User[];
  typing: Record<number, { name: string; until: number }>;
  /** Highest message id known to exist in the room. */
  latestId: number;
  /** Highest message id the user has seen here; unread = latestId - lastRead. */
  lastRead: number;
  /** The latest page of history has been fetched. */
  loaded: boolean;
  /** Older messages exist on the server. */
  more: boolean;
  loadingOlder: boolean;
  /** The server said some of the room's older messages are gone. */
  gap: boolean;
  /** The server's history of the room went back to this id (restored or reset): later ones shown before are gone. */
  rewoundTo: number | undefined;
  /** The text in the message box; kept across room switches and disconnects. */
  draft: string;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export const DEFAULT_ROOM = 'lobby';
const PAGE = 50;
const TYPING_SHOWN_MS = 5_000;
const TYPING_SENT_EVERY_MS = 2_500;

export const state = reactive({
  phase: 'loading' as 'loading' | 'signin' | 'chat',
  me: null as Self | null,
  connection: 'connecting' as ConnectionState,
  reconnectDelayMs: 0,
  rooms: {} as Record<string, RoomView>,
  current: DEFAULT_ROOM,
  /** Names of users seen anywhere, by id (for DM titles). */
  names: {} as Record<number, string>,
  notice: '' as string,
  /** Which side panel is open on a narrow screen. */
  panel: 'none' as 'none' | 'rooms' | 'users',
  signInMessage: '' as string,
});

const origin = typeof location === 'undefined' ? 'http://localhost' : location.origin;
let client: ParleyClient | undefined;
let offs: Array<() => void> = [];
/** Rooms this client asked the SDK to join (the SDK rejoins them after every reconnect). */
const subscribed = new Set<string>();
/** Message ids present per room: a second copy of a message is never shown. */
const seen = new Map<string, Set<number>>();
let lineKey = 0;
let lastTypingSent = new Map<string, number>();
let noticeTimer: ReturnType<typeof setTimeout> | undefined;
let typingTimer: ReturnType<typeof setInterval> | undefined;
let syncRetry: ReturnType<typeof setTimeout> | undefined;

// ---- preferences kept in localStorage, per user ----

interface Prefs {
  /** Public rooms the user joined (private rooms and DMs are joined by membership). */
  joined: string[];
  /** Private rooms and DMs the user left (hidden until a new message arrives). */
  hidden: string[];
  read: Record<string, number>;
}

function prefsKey(): string {
  return `parley:${state.me?.id ?? 0}`;
}

function loadPrefs(): Prefs {
  try {
    const raw = localStorage.getItem(prefsKey());
    const parsed = raw ? (JSON.parse(raw) as Partial<Prefs>) : {};
    return { joined: parsed.joined ?? [], hidden: parsed.hidden ?? [], read: parsed.read ?? {} };
  } catch {
    return { joined: [], hidden: [], read: {} };
  }
}

let prefs: Prefs = { joined: [], hidden: [], read: {} };
/** Written at once: a reload right after leaving a room must not bring it back. */
function savePrefs(): void {
  try {
    localStorage.setItem(prefsKey(), JSON.stringify(prefs));
  } catch {
    // Private mode or a full quota: preferences just do not survive a reload.
  }
}

// ---- rooms ----

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

function roomView(name: string, info?: Partial<RoomInfo>): RoomView {
  let view = state.rooms[name];
  if (!view) {
    const latestId = info?.lastId ?? 0;
    const read = prefs.read[name];
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

function setRead(view: RoomView, id: number): void {
  if (id <= view.lastRead && prefs.read[view.name] !== undefined) return;
  view.lastRead = id;
  prefs.read[view.name] = id;
  savePrefs();
}

export function unread(view: RoomView): number {
  return Math.max(0, view.latestId - view.lastRead);
}

/**
 * Subscribes to a room once per client. `after` is the last id the page knows of (from the room
 * list or the messages shown), so the server replays anything newer and the SDK's cursor starts
 * there: after every reconnect it rejoins with the last id it delivered, and nothing is missed.
 */
function subscribe(view: RoomView): void {
  view.member = true;
  if (!client || subscribed.has(view.name) || !view.exists) return;
  subscribed.add(view.name);
  // A DM room the server subscribed us to on its first message is already tracked by the SDK.
  if (!client.joinedRooms.includes(view.name)) client.join(view.name, { after: view.latestId });
}

function insertMessage(view: RoomView, m: ChatMessage): void {
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

function markReadIfVisible(view: RoomView): void {
  if (state.current === view.name && typeof document !== 'undefined' && !document.hidden) {
    setRead(view, view.latestId);
  }
}

// ---- connection and events ----

function resetChat(): void {
  for (const off of offs) off();
  offs = [];
  client?.close();
  client = undefined;
  subscribed.clear();
  seen.clear();
  lastTypingSent = new Map();
  clearInterval(typingTimer);
  clearTimeout(syncRetry);
  state.rooms = {};
  state.names = {};
  state.current = DEFAULT_ROOM;
  state.panel = 'none';
  state.notice = '';
}

function showNotice(message: string): void {
  state.notice = message;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (state.notice = ''), 8_000);
}

function startChat(user: Self): void {
  resetChat();
  state.me = user;
  state.names[user.id] = user.name;
  prefs = loadPrefs();
  state.phase = 'chat';
  state.connection = 'connecting';
  const c = new ParleyClient({ url: origin });
  client = c;

  offs.push(
    c.on('welcome', (frame) => {
      state.me = frame.user;
      void syncRooms(frame.rooms);
    }),
    c.on('chat', (m) => {
      const view = roomView(m.room);
      if (isDirect(m.room)) view.exists = true;
      insertMessage(view, m);
      delete view.typing[m.user.id];
      if (m.user.id === state.me?.id && view.lastRead >= m.id - 1) setRead(view, m.id);
      if (!view.member) {
        // A DM from someone, or a private room left earlier and written to again.
        prefs.hidden = prefs.hidden.filter((r) => r !== m.room);
        savePrefs();
      }
      subscribe(view);
      markReadIfVisible(view);
    }),
    c.on('join', ({ room, user }) => {
      const view = state.rooms[room];
      if (!view) return;
      state.names[user.id] = user.name;
      if (!view.online.some((u) => u.id === user.id)) view.online.push({ id: user.id, name: user.name });
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
      view.online = data.map((u) => ({ id: u.id, name: u.name }));
      for (const u of data) state.names[u.id] = u.name;
    }),
    c.on('typing', ({ room, user }) => {
      const view = state.rooms[room];
      if (!view || user.id === state.me?.id) return;
      view.typing[user.id] = { name: user.name, until: Date.now() + TYPING_SHOWN_MS };
    }),
    c.on('history_gap', ({ room }) => {
      const view = state.rooms[room];
      // A rewind comes with a history_gap error too; its own event says more.
      if (view && view.rewoundTo === undefined) view.gap = true;
    }),
    c.on('rewound', ({ room, lastId }) => {
      const view = state.rooms[room];
      if (!view) return;
      // The messages after lastId are gone from the server, and new ones reuse their ids: drop them
      // here too, or a new message would be taken for one already shown.
      view.messages = view.messages.filter((m) => m.id <= lastId);
      const ids = seen.get(room);
      if (ids) for (const id of [...ids]) if (id > lastId) ids.delete(id);
      view.latestId = lastId;
      if (view.lastRead > lastId) {
        view.lastRead = lastId;
        prefs.read[room] = lastId;
        savePrefs();
      }
      view.gap = false;
      view.rewoundTo = lastId;
    }),
    c.on('error', (err) => {
      // Errors of a send reject its promise and show on the message; gaps have their own line.
      if (err.cid || err.code === 'history_gap') return;
      showNotice(err.message);
    }),
    c.on('state', (s) => {
      state.connection = s.state;
      state.reconnectDelayMs = s.delayMs ?? 0;
      // Who is here is unknown while away; each room's `list` after the rejoin says it again.
      if (s.state === 'reconnecting') for (const view of Object.values(state.rooms)) view.online = [];
    }),
    c.on('closed', (info) => {
      state.connection = 'closed';
      // 401: the session is gone (signed out elsewhere, expired): back to the sign-in page.
      if (client === c && info.code === 401) void signOutLocally(t('sessionEnded'));
    }),
  );

  typingTimer = setInterval(expireTyping, 1_000);
  c.connect();
}

function addLine(view: RoomView, kind: 'join' | 'left', user: User): void {
  // In a conversation of two, comings and goings are noise; the people list shows them.
  if (view.direct) return;
  view.lines.push({ key: ++lineKey, kind, user: { id: user.id, name: user.name }, ts: Date.now(), afterId: view.latestId });
  // Presence lines are a live log, not history: keep the last few hundred.
  if (view.lines.length > 300) view.lines.splice(0, view.lines.length - 300);
}

function expireTyping(): void {
  const now = Date.now();
  for (const view of Object.values(state.rooms)) {
    for (const [id, entry] of Object.entries(view.typing)) {
      if (entry.until <= now) delete view.typing[Number(id)];
    }
  }
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
      info.name === DEFAULT_ROOM ||
      (info.private || info.direct ? !prefs.hidden.includes(info.name) : prefs.joined.includes(info.name));
    if (wanted) subscribe(view);
  }
  subscribe(roomView(DEFAULT_ROOM, infos.find((r) => r.name === DEFAULT_ROOM) ?? { name: DEFAULT_ROOM }));
  // A DM partner's name comes from the conversation itself.
  for (const view of Object.values(state.rooms)) {
    if (view.direct && view.member && state.names[dmPartner(view.name) ?? 0] === undefined) void loadLatest(view);
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

async function loadLatest(view: RoomView): Promise<void> {
  if (!client || view.loaded) return;
  if (!view.exists) {
    view.loaded = true;
    view.more = false;
    return;
  }
  view.loaded = true;
  try {
    const page = await client.history(view.name, { limit: PAGE });
    for (const m of page.data) insertMessage(view, m);
    view.more = page.more;
    markReadIfVisible(view);
  } catch (err) {
    view.loaded = false;
    showNotice(errorText(err));
  }
}

export async function loadOlder(name: string): Promise<void> {
  const view = state.rooms[name];
  if (!client || !view || view.loadingOlder || !view.more || !view.loaded) return;
  const oldest = view.messages[0]?.id;
  if (oldest === undefined) {
    view.more = false;
    return;
  }
  view.loadingOlder = true;
  try {
    const page = await client.history(name, { before: oldest, limit: PAGE });
    for (const m of page.data) insertMessage(view, m);
    view.more = page.more && page.data.length > 0;
  } catch (err) {
    showNotice(errorText(err));
  } finally {
    view.loadingOlder = false;
  }
}

// ---- actions ----

export async function boot(): Promise<void> {
  try {
    const user = await fetchMe(origin);
    if (user) startChat(user);
    else state.phase = 'signin';
  } catch {
    state.phase = 'signin';
    state.signInMessage = t('signin.network');
  }
}

export type SignInMode = 'guest' | 'login' | 'register';

/** Signs in; resolves to an error text for the form, or '' on success. */
export async function signInWith(mode: SignInMode, name: string, password: string): Promise<string> {
  try {
    const session =
      mode === 'guest'
        ? await signIn.guest(origin, name)
        : mode === 'login'
          ? await signIn.login(origin, name, password)
          : await signIn.register(origin, name, password);
    state.signInMessage = '';
    startChat(session.user);
    return '';
  } catch (err) {
    if (err instanceof ParleyHttpError) return errorText(err);
    return t('signin.network');
  }
}

export async function signOut(): Promise<void> {
  try {
    await apiLogout(origin);
  } catch {
    // Signed out locally either way.
  }
  await signOutLocally('');
}

async function signOutLocally(message: string): Promise<void> {
  resetChat();
  state.me = null;
  state.signInMessage = message;
  state.phase = 'signin';
}

export async function openRoom(name: string): Promise<void> {
  const view = state.rooms[name] ?? roomView(name);
  subscribe(view);
  state.current = name;
  state.panel = 'none';
  markReadIfVisible(view);
  await loadLatest(view);
}

/** Opens the conversation with a user (clicked in the user list). */
export async function openDirect(user: User): Promise<void> {
  const me = state.me;
  if (!me || user.id === me.id) return;
  state.names[user.id] = user.name;
  const name = me.id < user.id ? `dm:${me.id}:${user.id}` : `dm:${user.id}:${me.id}`;
  prefs.hidden = prefs.hidden.filter((r) => r !== name);
  savePrefs();
  const view = roomView(name);
  if (!view.exists && !view.loaded) {
    // It exists on the server only if one of the two wrote before; the room list knows.
    try {
      const infos = await listRooms(origin);
      const info = infos.find((r) => r.name === name);
      if (info) roomView(name, info);
    } catch {
      // Offline: open it empty; history comes when it exists.
    }
  }
  await openRoom(name);
}

export function currentRoom(): RoomView | undefined {
  return state.rooms[state.current];
}

export function send(name: string, text: string): void {
  const view = state.rooms[name];
  if (!client || !view || !text.trim()) return;
  // Others stop showing "typing" when the message arrives; the next keystroke may say it again.
  lastTypingSent.delete(name);
  const pending: PendingMessage = { key: ++lineKey, text, ts: Date.now(), status: 'pending' };
  view.pending.push(pending);
  deliver(view, pending);
}

function deliver(view: RoomView, pending: PendingMessage): void {
  if (!client || !state.me) return;
  const me = state.me;
  const partner = view.direct ? dmPartner(view.name) : undefined;
  const sent = partner !== undefined ? client.dm(partner, pending.text) : client.send(view.name, pending.text);
  sent.then(
    (ack) => {
      const target = roomView(ack.room);
      target.exists = true;
      view.pending = view.pending.filter((p) => p.key !== pending.key);
      // The chat frame usually comes too; whichever is first shows the message, once.
      insertMessage(target, { room: ack.room, id: ack.id, ts: ack.ts, user: { id: me.id, name: me.name }, data: pending.text });
      if (target.lastRead >= ack.id - 1) setRead(target, ack.id);
      subscribe(target);
    },
    (err: unknown) => {
      const entry = view.pending.find((p) => p.key === pending.key);
      if (!entry) return;
      entry.status = 'failed';
      entry.error = errorText(err);
      entry.code = err instanceof ParleyError ? err.code : undefined;
    },
  );
}

export function retry(name: string, key: number): void {
  const view = state.rooms[name];
  const entry = view?.pending.find((p) => p.key === key);
  if (!view || !entry) return;
  entry.status = 'pending';
  entry.error = undefined;
  entry.code = undefined;
  deliver(view, entry);
}

/** Takes a refused message back into the message box, before anything typed since, to be changed and sent again. */
export function editFailed(name: string, key: number): void {
  const view = state.rooms[name];
  const entry = view?.pending.find((p) => p.key === key);
  if (!view || !entry) return;
  view.pending = view.pending.filter((p) => p.key !== key);
  view.draft = view.draft.trim() ? `${entry.text}\n${view.draft}` : entry.text;
}

export function discard(name: string, key: number): void {
  const view = state.rooms[name];
  if (view) view.pending = view.pending.filter((p) => p.key !== key);
}

export function typing(name: string): void {
  const view = state.rooms[name];
  if (!client || !view || !view.exists || state.connection !== 'open') return;
  const now = Date.now();
  if (now - (lastTypingSent.get(name) ?? 0) < TYPING_SENT_EVERY_MS) return;
  lastTypingSent.set(name, now);
  client.typing(name);
}

/** Creates a room and enters it; resolves to an error text or ''. */
export async function createRoom(name: string, isPrivate: boolean): Promise<string> {
  try {
    const info = await apiCreateRoom(origin, name, { private: isPrivate });
    const view = roomView(info.name, info);
    if (!info.private) {
      prefs.joined = [...new Set([...prefs.joined, info.name])];
      savePrefs();
    }
    subscribe(view);
    await openRoom(info.name);
    return '';
  } catch (err) {
    return errorText(err);
  }
}

export async function joinRoom(name: string): Promise<void> {
  const view = roomView(name);
  if (!view.private) prefs.joined = [...new Set([...prefs.joined, name])];
  prefs.hidden = prefs.hidden.filter((r) => r !== name);
  savePrefs();
  await openRoom(name);
}

export function leaveRoom(name: string): void {
  const view = state.rooms[name];
  if (!view || name === DEFAULT_ROOM) return;
  view.member = false;
  view.online = [];
  if (subscribed.delete(name)) client?.leave(name);
  prefs.joined = prefs.joined.filter((r) => r !== name);
  if (view.private || view.direct) prefs.hidden = [...new Set([...prefs.hidden, name])];
  savePrefs();
  if (state.current === name) void openRoom(DEFAULT_ROOM);
}

/** Adds a user to a private room; resolves to an error text or ''. */
export async function invite(room: string, user: User): Promise<string> {
  try {
    await addMember(origin, room, user.id);
    return '';
  } catch (err) {
    return errorText(err);
  }
}

/** Everyone this page has seen online in any room, except the user. */
export function knownUsers(): User[] {
  const byId = new Map<number, User>();
  for (const view of Object.values(state.rooms)) for (const u of view.online) byId.set(u.id, u);
  byId.delete(state.me?.id ?? 0);
  return [...byId.values()].sort((a, b) => compareNames(a.name, b.name));
}

export function dismissNotice(): void {
  state.notice = '';
}

/** The room view is visible again: what is on screen counts as read. */
export function pageVisible(): void {
  const view = currentRoom();
  if (view) markReadIfVisible(view);
}

function errorText(err: unknown): string {
  if (err instanceof ParleyError || err instanceof ParleyHttpError) return refusalText(err.code, err.message);
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === 'object' && err && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}

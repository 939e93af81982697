/** What the user does in the chat: send and take back messages, type, open, create, join and leave rooms, invite. */
import { ParleyError, addMember, createRoom as apiCreateRoom, findUsers as apiFindUsers, listRooms } from '../../../src/client/index.js';
import { DEFAULT_ROOM, origin, state, type PendingMessage, type RoomView, type User } from './chat-state.js';
import { chatClient, openRoom, signalTyping, subscribe, typingEnded, unsubscribe } from './connection.js';
import { errorText } from './notice.js';
import { markJoined, markLeft, unhide } from './prefs.js';
import { currentRoom, dmPartner, insertMessage, markReadIfVisible, nextKey, roomView, setRead } from './rooms.js';

export function send(name: string, text: string): void {
  const view = state.rooms[name];
  if (!chatClient() || !view || !text.trim()) return;
  // Others stop showing "typing" when the message arrives; the next keystroke may say it again.
  typingEnded(name);
  const pending: PendingMessage = { key: nextKey(), text, ts: Date.now(), status: 'pending' };
  view.pending.push(pending);
  deliver(view, pending);
}

function deliver(view: RoomView, pending: PendingMessage): void {
  const client = chatClient();
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
  if (!view || !view.exists || state.connection !== 'open') return;
  signalTyping(name);
}

/** Opens the conversation with a user (clicked in the user list). */
export async function openDirect(user: User): Promise<void> {
  const me = state.me;
  if (!me || user.id === me.id) return;
  state.names[user.id] = user.name;
  const name = me.id < user.id ? `dm:${me.id}:${user.id}` : `dm:${user.id}:${me.id}`;
  unhide(name);
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

/** Creates a room and enters it; resolves to an error text or ''. */
export async function createRoom(name: string, isPrivate: boolean): Promise<string> {
  try {
    const info = await apiCreateRoom(origin, name, { private: isPrivate });
    const view = roomView(info.name, info);
    if (!info.private) markJoined(info.name);
    subscribe(view);
    await openRoom(info.name);
    return '';
  } catch (err) {
    return errorText(err);
  }
}

export async function joinRoom(name: string): Promise<void> {
  const view = roomView(name);
  if (!view.private) markJoined(name);
  unhide(name);
  await openRoom(name);
}

/** Leaves a room (not lobby, and not a DM: a conversation of two is not left, and its next message would bring it back). */
export function leaveRoom(name: string): void {
  const view = state.rooms[name];
  if (!view || name === DEFAULT_ROOM || view.direct) return;
  view.member = false;
  view.online = [];
  unsubscribe(name);
  markLeft(name, view.private);
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

/** People whose name starts with `prefix`, to invite (the user themself left out). */
export async function findPeople(prefix: string): Promise<Array<User & { guest: boolean }>> {
  const found = await apiFindUsers(origin, prefix, { limit: 10 });
  return found.filter((u) => u.id !== state.me?.id);
}

/** The room view is visible again: what is on screen counts as read. */
export function pageVisible(): void {
  const view = currentRoom();
  if (view) markReadIfVisible(view);
}

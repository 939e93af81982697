/**
 * What the user does in the chat: send (or answer) messages and take back refused ones, edit,
 * delete and react, type, open, create, join and leave rooms, invite.
 */
import { ParleyError, addMember, type ChatMessage, createRoom as apiCreateRoom, findUsers as apiFindUsers, listRooms } from '../../../src/client/index.js';
import { DEFAULT_ROOM, origin, state, type PendingMessage, type RoomView, type Self, type User } from './chat-state.js';
import { chatClient, markReadIfVisible, openRoom, signalTyping, subscribe, typingEnded, unsubscribe } from './connection.js';
import { errorText, showNotice } from './notice.js';
import { markJoined, markLeft, unhide } from './prefs.js';
import { applyEntry, currentRoom, dmPartner, nextKey, roomView } from './rooms.js';

export function send(name: string, text: string): void {
  const view = state.rooms[name];
  if (!chatClient() || !view || !text.trim()) return;
  // Others stop showing "typing" when the message arrives; the next keystroke may say it again.
  typingEnded(name);
  const pending: PendingMessage = { key: nextKey(), text, ts: Date.now(), status: 'pending' };
  if (view.replyTo !== undefined) pending.reply = view.replyTo;
  view.replyTo = undefined;
  view.pending.push(pending);
  deliver(view, pending);
}

function deliver(view: RoomView, pending: PendingMessage): void {
  const client = chatClient();
  if (!client || !state.me) return;
  const me = state.me;
  // A DM goes by user until its room exists; an answer is to a message of the room, so it does.
  const partner = view.direct && pending.reply === undefined ? dmPartner(view.name) : undefined;
  const sent =
    partner !== undefined
      ? client.dm(partner, pending.text)
      : client.send(view.name, pending.text, pending.reply === undefined ? {} : { reply: pending.reply });
  sent.then(
    (ack) => {
      const target = roomView(ack.room);
      target.exists = true;
      view.pending = view.pending.filter((p) => p.key !== pending.key);
      // The chat frame usually comes too; whichever is first shows the message, once.
      const message: ChatMessage = { room: ack.room, id: ack.id, ts: ack.ts, user: { id: me.id, name: me.name }, data: pending.text };
      if (pending.reply !== undefined) message.reply = pending.reply;
      applyEntry(target, message);
      subscribe(target);
      markReadIfVisible(target);
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
export async function invite(room: string, user: Pick<User, 'id' | 'name'>): Promise<string> {
  try {
    await addMember(origin, room, user.id);
    return '';
  } catch (err) {
    return errorText(err);
  }
}

/** People whose name starts with `prefix`, to invite (the user themself left out). */
export async function findPeople(prefix: string): Promise<Self[]> {
  const found = await apiFindUsers(origin, prefix, { limit: 10 });
  return found.filter((u) => u.id !== state.me?.id);
}

/** The room view is visible again: what is on screen counts as read. */
export function pageVisible(): void {
  const view = currentRoom();
  if (view) markReadIfVisible(view);
}

/** Answers message `id` with the next message sent in the room (the composer shows it). */
export function startReply(room: string, id: number): void {
  const view = state.rooms[room];
  if (!view) return;
  view.replyTo = id;
  state.editing = null;
  document.getElementById('composer-input')?.focus();
}

export function cancelReply(room: string): void {
  const view = state.rooms[room];
  if (view) view.replyTo = undefined;
}

export function startEdit(room: string, id: number): void {
  state.picking = null;
  state.editing = { room, id };
}

export function stopEdit(): void {
  state.editing = null;
}

/** Saves an edit of the user's message; the edit event shows it. Resolves to false when refused. */
export async function saveEdit(room: string, id: number, text: string): Promise<boolean> {
  const client = chatClient();
  if (!client) return false;
  try {
    await client.edit(room, id, text);
    return true;
  } catch (err) {
    showNotice(errorText(err));
    return false;
  }
}

/** Deletes the user's message (asked to confirm first by the caller). */
export async function deleteMessage(room: string, id: number): Promise<void> {
  try {
    await chatClient()?.delete(room, id);
  } catch (err) {
    showNotice(errorText(err));
  }
}

/** Adds the user's `emoji` to a message, or takes it back when it is there. */
export async function toggleReaction(room: string, id: number, emoji: string, on: boolean): Promise<void> {
  state.picking = null;
  try {
    await chatClient()?.react(room, id, emoji, on);
  } catch (err) {
    showNotice(errorText(err));
  }
}

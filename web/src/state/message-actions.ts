/**
 * What can be done to a message, as one list the message's action bar shows in order. Each entry
 * says who may use it; another (a moderator's delete, a report) is one more entry here.
 */
import type { ChatMessage } from '../../../src/client/index.js';
import { t } from '../i18n.js';
import { deleteMessage, startEdit, startReply } from './actions.js';
import { state } from './chat-state.js';
import { isAdminUser, isBanned, isMuted, myMute, myPower } from './moderation.js';
import { moderates, offeredActions } from '../moderation.js';

export interface MessageAction {
  /** Stable name (tests and styles use it). */
  key: string;
  label: string;
  /** A symbol shown on the button; the label is its accessible name and tooltip. */
  icon: string;
  danger?: boolean;
  run(): void;
}

export function messageActions(room: string, m: ChatMessage): MessageAction[] {
  if (m.deleted) return [];
  const mine = m.user.id === state.me?.id;
  // Muted, the user may read and take their own message down, not post: a reply, a reaction or an
  // edit would only be refused (the composer says why).
  const mayPost = myMute(room) === undefined;
  const actions: MessageAction[] = [];
  if (mayPost) {
    actions.push(
      { key: 'reply', label: t('reply'), icon: '↩', run: () => startReply(room, m.id) },
      { key: 'react', label: t('react'), icon: '☺', run: () => togglePicker(room, m.id) },
    );
  }
  if (mine) {
    if (mayPost) actions.push({ key: 'edit', label: t('editMessage'), icon: '✎', run: () => startEdit(room, m.id) });
    actions.push({ key: 'delete', label: t('deleteMessage'), icon: '🗑', danger: true, run: () => confirmDelete(room, m.id) });
  }
  actions.push(...moderatorActions(room, m));
  return actions;
}

/** A moderator's delete of someone else's message, and the menu of what they may do to its author. */
function moderatorActions(room: string, m: ChatMessage): MessageAction[] {
  const view = state.rooms[room];
  if (!view || m.user.id === state.me?.id) return [];
  const power = myPower(view);
  if (!moderates(power)) return [];
  const actions: MessageAction[] = [
    { key: 'mod-delete', label: t('deleteAsModerator'), icon: '🗑', danger: true, run: () => confirmDelete(room, m.id, m.user.name) },
  ];
  const target = { self: false, admin: isAdminUser(m.user), role: view.roles[m.user.id], muted: isMuted(view, m.user.id), banned: isBanned(view, m.user.id) };
  if (offeredActions(power, target).length > 0) {
    const user = m.user;
    actions.push({ key: 'moderate', label: t('moderateUser', { name: user.name }), icon: '🛡', run: () => (state.moderating = { room, user }) });
  }
  return actions;
}

function togglePicker(room: string, id: number): void {
  const open = state.picking?.room === room && state.picking.id === id;
  state.picking = open ? null : { room, id };
}

/** Asks first; `author` when it is someone else's message (a moderator's delete). */
function confirmDelete(room: string, id: number, author?: string): void {
  if (window.confirm(author === undefined ? t('confirmDelete') : t('confirmModDelete', { name: author }))) void deleteMessage(room, id);
}

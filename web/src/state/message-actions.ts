/**
 * What can be done to a message, as one list the message's action bar shows in order. Each entry
 * says who may use it; another (a moderator's delete, a report) is one more entry here.
 */
import type { ChatMessage } from '../../../src/client/index.js';
import { t } from '../i18n.js';
import { deleteMessage, startEdit, startReply } from './actions.js';
import { state } from './chat-state.js';

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
  const actions: MessageAction[] = [
    { key: 'reply', label: t('reply'), icon: '↩', run: () => startReply(room, m.id) },
    { key: 'react', label: t('react'), icon: '☺', run: () => togglePicker(room, m.id) },
  ];
  if (mine) {
    actions.push(
      { key: 'edit', label: t('editMessage'), icon: '✎', run: () => startEdit(room, m.id) },
      { key: 'delete', label: t('deleteMessage'), icon: '🗑', danger: true, run: () => confirmDelete(room, m.id) },
    );
  }
  return actions;
}

function togglePicker(room: string, id: number): void {
  const open = state.picking?.room === room && state.picking.id === id;
  state.picking = open ? null : { room, id };
}

function confirmDelete(room: string, id: number): void {
  if (window.confirm(t('confirmDelete'))) void deleteMessage(room, id);
}

/**
 * Browser notifications of mentions: asked for only from a click (browsers ignore, or hold against
 * the site, a request made on load), and shown only while the tab is hidden.
 */
import { t } from '../i18n.js';
import { shortText } from '../format.js';
import { state } from './chat-state.js';

function supported(): boolean {
  return typeof Notification !== 'undefined';
}

/** Reads the permission the browser has for the page (at start, and after asking). */
export function readNotificationPermission(): void {
  state.notifications = supported() ? Notification.permission : 'unsupported';
}

/** Asks the browser for permission; call it from a click. */
export async function askNotifications(): Promise<void> {
  if (!supported()) return;
  try {
    await Notification.requestPermission();
  } finally {
    readNotificationPermission();
  }
}

/** A message named the user: a notification, when they allowed them and are looking elsewhere. */
export function notifyMention(roomTitle: string, author: string, text: string, tag: string): void {
  if (!supported() || Notification.permission !== 'granted' || typeof document === 'undefined' || !document.hidden) return;
  // One per message: every tab of the user gets the mention, and the same tag shows it once.
  const note = new Notification(t('mentionTitle', { name: author, room: roomTitle }), { body: shortText(text, 140), tag });
  note.onclick = () => {
    window.focus();
    note.close();
  };
}

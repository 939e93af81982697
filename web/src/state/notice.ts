/** The notice line above the messages (an error not tied to a message), and the words of an error. */
import { ParleyError, ParleyHttpError } from '../../../src/client/index.js';
import { refusalText } from '../i18n.js';
import { state } from './chat-state.js';

let noticeTimer: ReturnType<typeof setTimeout> | undefined;

export function showNotice(message: string): void {
  state.notice = message;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (state.notice = ''), 8_000);
}

export function dismissNotice(): void {
  state.notice = '';
}

/** What to tell the user about an error: a refusal by its code in the page's language, else its message. */
export function errorText(err: unknown): string {
  if (err instanceof ParleyError || err instanceof ParleyHttpError) return refusalText(err.code, err.message);
  if (err instanceof Error && err.message) return err.message;
  if (typeof err === 'object' && err && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}

/** A refusal in the page's language, with the server's reason when the translation leaves it out (why a moderator may not). */
export function refusalWithReason(err: unknown): string {
  const text = errorText(err);
  return err instanceof ParleyError && text !== err.message ? `${text} (${err.message})` : text;
}

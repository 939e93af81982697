/** Times and days as the reader's locale writes them. */
import { locale, t } from './i18n.js';

const tag = locale === 'zh' ? 'zh-CN' : undefined;
const timeFormat = new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(tag, { dateStyle: 'full', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(tag, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

export function formatTime(ts: number): string {
  return timeFormat.format(ts);
}

export function formatFull(ts: number): string {
  return fullFormat.format(ts);
}

/** A key that is equal for two timestamps on the same local calendar day. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatDay(ts: number, now = Date.now()): string {
  if (dayKey(ts) === dayKey(now)) return t('today');
  if (dayKey(ts) === dayKey(now - 86_400_000)) return t('yesterday');
  return dayFormat.format(ts);
}

/** A message cut to one short line (a quoted message, a notification): white space collapsed, "…" when cut. */
export function shortText(text: string, max = 80): string {
  const flat = text.replace(/\s+/gu, ' ').trim();
  const chars = [...flat];
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/**
 * The @names in a message's text, found as the server finds them: an `@` at the start of a word,
 * then a name of the room compared case-insensitively, the longest that fits, ending where a word
 * ends. The page marks the names the message named (its `mentions`) and the user's own.
 */
import { nameKey } from '../../src/protocol/names.js';

export type MentionPart = { kind: 'text'; text: string } | { kind: 'mention'; text: string; name: string };

/** A character that continues a word, as the server's MentionResolver has it. */
const WORD = /[\p{L}\p{N}\p{M}_]/u;

export function splitMentions(text: string, names: readonly string[]): MentionPart[] {
  const candidates = [...new Set(names.filter((n) => n.length > 0))].sort((a, b) => b.length - a.length);
  const parts: MentionPart[] = [];
  if (candidates.length === 0) return text ? [{ kind: 'text', text }] : [];
  let last = 0;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    const before = at > 0 ? text[at - 1]! : '';
    if (before !== '' && WORD.test(before)) continue;
    const name = candidates.find((n) => fitsAt(text, at + 1, n));
    if (name === undefined) continue;
    if (at > last) parts.push({ kind: 'text', text: text.slice(last, at) });
    const end = at + 1 + name.length;
    parts.push({ kind: 'mention', text: text.slice(at, end), name });
    last = end;
    at = end - 1;
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) });
  return parts;
}

function fitsAt(text: string, start: number, name: string): boolean {
  const written = text.slice(start, start + name.length);
  if (written.length !== name.length || nameKey(written) !== nameKey(name)) return false;
  const next = text.slice(start + name.length, start + name.length + 2);
  const nextChar = next ? String.fromCodePoint(next.codePointAt(0)!) : '';
  const lastChar = [...name].at(-1) ?? '';
  return !(nextChar && WORD.test(nextChar) && WORD.test(lastChar));
}

/** The `@name` being typed at the end of `beforeCursor` (for completion), or undefined. */
export function mentionQuery(beforeCursor: string): string | undefined {
  const match = /(?:^|[^\p{L}\p{N}\p{M}_])@([^\s@]{0,32})$/u.exec(beforeCursor);
  return match ? match[1] : undefined;
}

/** The people whose name starts with what is typed after `@` (case-insensitively), the user left out, each once. */
export function mentionCandidates<U extends { id: number; name: string }>(query: string, people: readonly U[], me: number, limit = 6): U[] {
  const prefix = nameKey(query);
  const seen = new Set<number>([me]);
  const found: U[] = [];
  for (const person of people) {
    if (seen.has(person.id) || !nameKey(person.name).startsWith(prefix)) continue;
    seen.add(person.id);
    found.push(person);
    if (found.length >= limit) break;
  }
  return found;
}

/**
 * Who a message names with `@name`. A name is matched against the users who can read the room:
 * in a public room every registered account and whoever is in the room's presence now (guests too);
 * in a private room or a DM its members. Names are compared by their name key (case-insensitive,
 * NFC), may have spaces, and the longest name that fits wins ("@ann b" names "ann b" rather than
 * "ann" when both exist). docs/protocol.md says the same to users.
 */
import type { Presence, PresenceUser } from '../broker/types.js';
import { MAX_NAME_CHARS, nameKey } from '../protocol/names.js';
import type { Room, Store } from '../store/types.js';

/** The most `@`s of one message that are looked at, so one message costs a bounded look-up. */
const MAX_MENTIONS = 10;
/** A character that continues a word: a name must not end in the middle of one ("@bob" in "@bobby"). */
const WORD = /[\p{L}\p{N}\p{M}_]/u;

export class MentionResolver {
  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
  ) {}

  /** Whether the text may name anyone (the cheap test before the look-up). */
  static mayMention(text: string): boolean {
    return text.includes('@');
  }

  /**
   * The ids of the users the text names, in the order named, each once, the sender left out;
   * undefined when it names nobody.
   */
  async resolve(room: Room, text: string, sender: PresenceUser): Promise<number[] | undefined> {
    const spots = candidates(text);
    if (spots.length === 0) return undefined;
    const keys = [...new Set(spots.flat())];
    const byKey = new Map<string, number[]>();
    const add = (user: { id: number; name: string }) => {
      const key = nameKey(user.name);
      const ids = byKey.get(key) ?? [];
      if (!ids.includes(user.id)) ids.push(user.id);
      byKey.set(key, ids);
    };
    if (room.private) {
      for (const user of await this.store.usersByNameKeys(keys, { membersOf: room.name })) add(user);
    } else {
      const [registered, present] = await Promise.all([this.store.usersByNameKeys(keys), this.presence.list(room.name)]);
      for (const user of registered) add(user);
      const wanted = new Set(keys);
      for (const user of present) if (wanted.has(nameKey(user.name))) add(user);
    }
    const named: number[] = [];
    for (const spot of spots) {
      // Longest first: the first candidate that names someone is the name.
      const ids = spot.map((key) => byKey.get(key)).find((found) => found !== undefined);
      for (const id of ids ?? []) if (id !== sender.id && !named.includes(id)) named.push(id);
    }
    return named.length > 0 ? named : undefined;
  }
}

/**
 * For each `@` that starts a mention (at the start of the text, or after a character that does not
 * continue a word, so "ann@example.com" is none), the name keys it could stand for, longest first:
 * the text after it up to MAX_NAME_CHARS characters, cut at each place a word ends.
 */
function candidates(text: string): string[][] {
  const spots: string[][] = [];
  for (let at = text.indexOf('@'); at >= 0 && spots.length < MAX_MENTIONS; at = text.indexOf('@', at + 1)) {
    const before = at > 0 ? String.fromCodePoint(text.codePointAt(at - 1)!) : '';
    if (before !== '' && WORD.test(before)) continue;
    const chars = Array.from(text.slice(at + 1, at + 3 + 2 * MAX_NAME_CHARS)).slice(0, MAX_NAME_CHARS + 1);
    const keys: string[] = [];
    for (let length = Math.min(MAX_NAME_CHARS, chars.length); length > 0; length--) {
      const name = chars.slice(0, length).join('');
      const next = chars[length];
      // A name ends where a word does, and is trimmed (user names are).
      if (next !== undefined && WORD.test(next) && WORD.test(chars[length - 1]!)) continue;
      if (name.trim() !== name || name.length === 0) continue;
      keys.push(nameKey(name));
    }
    if (keys.length > 0) spots.push(keys);
  }
  return spots;
}

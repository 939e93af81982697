/**
 * The naming rules both sides of the protocol and every Store share: user and room names, the
 * direct-message room of two users, and the keys under which two account names count as one.
 * Imported by the server (store, http, realtime) and by the clients (SDK, CLI, web).
 */
import unhomoglyph from 'unhomoglyph';
import { z } from 'zod';

/** Longest user name, in characters (code points). */
export const MAX_NAME_CHARS = 32;

/**
 * Letters of any script, digits, `_`, `.` and `-`, with at least one letter or digit: safe in a URL
 * path segment (no `.` or `..`) and in a log line.
 */
const ROOM_NAME = /^(?=.*[\p{L}\p{N}])[\p{L}\p{N}_.-]{1,64}$/u;
/**
 * Invisible format characters that would let one name pass for another (zero-width space, bidi
 * overrides, BOM…). ZWJ and ZWNJ stay allowed (emoji sequences, Persian), and so do the tag
 * characters of subdivision flags.
 */
const INVISIBLE = /(?!\u200C|\u200D|[\u{E0020}-\u{E007F}])\p{Cf}/u;
const DIRECT_ROOM = /^dm:([1-9][0-9]{0,15}):([1-9][0-9]{0,15})$/;

/** A user name: trimmed, NFC-normalised, 1-32 characters of any script, no control characters. */
export const userNameSchema = z
  .string()
  .transform((s) => s.normalize('NFC').trim())
  // Nothing else to say about an empty name: the checks after it would only add "no visible character".
  .refine((s) => s.length > 0, { error: 'name must not be empty', abort: true })
  .refine((s) => [...s].length <= MAX_NAME_CHARS, `name must be at most ${MAX_NAME_CHARS} characters`)
  .refine((s) => !/[\p{Cc}\p{Cs}]/u.test(s), 'name must not contain control characters or broken UTF-16')
  .refine((s) => !INVISIBLE.test(s), 'name must not contain invisible formatting characters')
  .refine((s) => /[\p{L}\p{N}\p{S}\p{P}]/u.test(s), 'name must have a visible character');

/** A room name a user may create. */
export const newRoomNameSchema = z
  .string()
  .regex(ROOM_NAME, 'room name must be 1-64 letters, digits, "_", "." or "-", with a letter or digit');

/** Any room name a client may address: a created room or a direct-message room `dm:<a>:<b>`. */
export const roomNameSchema = z
  .string()
  .refine((s) => ROOM_NAME.test(s) || DIRECT_ROOM.test(s), 'room must be a room name or dm:<id>:<id>');

/** The name of the direct-message room of two users: ids sorted ascending. */
export function directRoomName(a: number, b: number): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The two user ids of a direct-message room name, or undefined for any other room. */
export function directRoomMembers(room: string): [number, number] | undefined {
  const m = DIRECT_ROOM.exec(room);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether the room is a direct-message room; such a room is always private to its two members. */
export function isDirectRoom(room: string): boolean {
  return DIRECT_ROOM.test(room);
}

/** The public room every server has from its first start. */
export const DEFAULT_ROOM = 'lobby';

/**
 * The form in which an account is looked up by name at login: NFC, then lower case. "Alice",
 * "ALICE" and "alice" are one name; so are a precomposed "é" and "e" + combining accent.
 * Every Store implementation must use the same key, or the same name could be taken twice.
 */
export function nameKey(name: string): string {
  // Lower-casing can unpack a character (İ -> i + dot), so normalise again after it.
  return name.normalize('NFC').toLowerCase().normalize('NFC');
}

/**
 * The keys under which two names look alike, so that one account cannot pass for another: a name
 * whose `folded` or `cased` key is a registered account's is taken (by that account).
 * - `folded`: the Unicode TS #39 confusable skeleton of the name case-folded (lower case of NFKC).
 *   "alice", "ALICE", "ａｌｉｃｅ" (full-width), "аlice" (Cyrillic а), "alıce" (dotless ı) and
 *   "ALİCE" share it, and so do "bob" and "b0b".
 * - `cased`: the skeleton of the name as written (NFKC), then folded the same way, for look-alikes
 *   that folding first would hide: a capital I passes for a small l, so "AIice" looks like "Alice"
 *   and "alice" alike, though "aiice" is neither.
 * Every Store stores both for each account. Changing what they are (a new confusables table, that
 * is, another unhomoglyph version: it is pinned) needs a migration that computes them again.
 */
export function nameSkeletons(name: string): { folded: string; cased: string } {
  const nfkc = name.normalize('NFKC');
  // The skeleton's prototypes may be capitals (0 -> O): fold again after it.
  const folded = skeleton(skeleton(nfkc.toLowerCase()).toLowerCase());
  return { folded, cased: skeleton(skeleton(nfkc).toLowerCase()) };
}

/** Readings of a name's capital I's tried one by one; a name with more gets the all-l and all-i readings. */
const MAX_I_READINGS = 4;

/**
 * Every key under which a new name could pass for an account's: both of its own skeletons
 * (nameSkeletons), and the folded skeleton of each reading of its capital I's, each an l or an i:
 * "AIICE" reads "alice" with its first I an l and its second an i, which neither the folded
 * skeleton ("aiice") nor the cased one ("allce") shows. A name is refused when any of these is an
 * account's folded or cased skeleton.
 */
export function lookAlikeKeys(name: string): string[] {
  const nfkc = name.normalize('NFKC');
  const { folded, cased } = nameSkeletons(name);
  const keys = new Set([folded, cased]);
  const parts = nfkc.split('I');
  const count = parts.length - 1;
  const readings = count === 0 ? [] : count <= MAX_I_READINGS ? Array.from({ length: 2 ** count }, (_, bits) => bits) : [0, 2 ** count - 1];
  for (const bits of readings) {
    const reading = parts.reduce((text, part, i) => (i === 0 ? part : text + ((bits >> (i - 1)) & 1 ? 'l' : 'i') + part), '');
    keys.add(skeleton(skeleton(reading.toLowerCase()).toLowerCase()));
  }
  return [...keys];
}

/** Default-ignorable code points (ZWJ, ZWNJ, variation selectors…): invisible, so not part of a skeleton. */
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
/** A dot above on a soft-dotted letter (i, j…) takes the place of its own dot: "i̇" looks like "i". */
const DOT_ON_SOFT_DOTTED = /(\p{Soft_Dotted})\u0307/gu;

/**
 * skeleton(X) of Unicode TS #39: NFD, without default-ignorable code points, each character
 * replaced by its prototype in the confusables table (unhomoglyph ships it), NFD again. A dot
 * above a soft-dotted letter is dropped too, which the table has no entry for.
 */
function skeleton(s: string): string {
  const prototypes = unhomoglyph(s.normalize('NFD').replace(IGNORABLE, '')).normalize('NFD');
  return prototypes.replace(DOT_ON_SOFT_DOTTED, '$1');
}

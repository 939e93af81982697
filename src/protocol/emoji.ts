/**
 * What a reaction may be: one emoji. Both sides of the protocol check it (the server refuses
 * anything else with bad_request; a client can check before it sends).
 */

/** The longest reaction, in UTF-16 code units: room for the longest RGI sequences (a family, a couple with skin tones, a subdivision flag). */
export const MAX_EMOJI_LENGTH = 32;

/**
 * Exactly one emoji of Unicode's recommended set, sequences included (\p{RGI_Emoji}, a property of
 * strings that needs the `v` flag: built at run time, so an engine without it falls back below).
 */
const RGI_EMOJI: RegExp | undefined = (() => {
  try {
    return new RegExp('^\\p{RGI_Emoji}$', 'v');
  } catch {
    return undefined;
  }
})();

/**
 * One emoji by its structure, for those RGI_EMOJI does not know (newer than the engine's Unicode
 * data, or not recommended but well formed): a pair of regional indicators (a flag), a keycap, or
 * pictographic characters, each with an optional emoji presentation selector or skin tone, joined
 * by zero-width joiners, with optional tag characters (subdivision flags).
 */
const PICTOGRAPHIC_EMOJI =
  /^(?:\p{Regional_Indicator}{2}|[#*0-9]\uFE0F?\u20E3|\p{Extended_Pictographic}[\uFE0F\p{Emoji_Modifier}]?(?:\u200D\p{Extended_Pictographic}[\uFE0F\p{Emoji_Modifier}]?)*[\u{E0020}-\u{E007E}]*\u{E007F}?)$/u;

/** Whether `s` is one emoji, at most MAX_EMOJI_LENGTH code units long. */
export function isEmoji(s: string): boolean {
  if (s.length === 0 || s.length > MAX_EMOJI_LENGTH) return false;
  return (RGI_EMOJI?.test(s) ?? false) || PICTOGRAPHIC_EMOJI.test(s);
}

/**
 * What search means, written once for every Store: how text and queries are normalised, which
 * messages a query matches (matchesSearch, the final word on every candidate), and the keys an
 * index keeps for a message and looks up for a query. Both stores index the same keys: SQLite in
 * an FTS5 trigram table, PostgreSQL in a GIN-indexed array.
 *
 * A query is split at white space into terms (up to MAX_TERMS); a message matches when it has every
 * term, compared after NFKC normalisation and lower-casing (so "Hello" finds "hello" and "ｈｅｌｌｏ").
 * A term of 3 or more characters is found anywhere ("meet" finds "meeting", "大家好" finds
 * "你好，大家好"). A shorter term is found anywhere when it has a Chinese, Japanese or Korean
 * character or a symbol such as an emoji ("好" and "你好" find "你好，大家好", "🎉" finds "yay🎉"),
 * and otherwise as a whole word ("ok" finds "ok!" but not "book"), since one or two letters are in
 * almost every message. docs/protocol.md (search) says the same to users.
 */

/** The most terms of one query that count (the rest are ignored). */
export const MAX_TERMS = 8;
/** The longest query, in characters. */
export const MAX_QUERY_CHARS = 200;

/** Characters found inside words however short the term: CJK scripts and symbols (emoji). */
const DENSE_CLASS = '[\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\p{Script=Bopomofo}\\p{So}\\p{Sk}]';
const DENSE = new RegExp(DENSE_CLASS, 'u');
const EVERY_DENSE = new RegExp(DENSE_CLASS, 'gu');
/** A word, for whole-word terms: a run of letters, digits and marks that are not DENSE. */
const EVERY_WORD = new RegExp(`(?:(?!${DENSE_CLASS})[\\p{L}\\p{N}\\p{M}])+`, 'gu');
/** Start and end of a message's text in its index keys, and the wrapper of its extra keys. */
const EDGE = '\u0001';
/** Control characters: never searched for, and the index's own markers are one. */
const CONTROL = /\p{Cc}/gu;

/** Text as search compares it: NFKC, lower case, control characters as spaces. */
export function foldForSearch(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(CONTROL, ' ');
}

/** One term of a query, folded. `word`: matched as a whole word (a short term without DENSE characters). */
export interface SearchTerm {
  text: string;
  word: boolean;
}

/** The terms of a query (folded, each once), or none when it has nothing to look for. */
export function searchTerms(q: string): SearchTerm[] {
  const texts = [...new Set(foldForSearch(q).split(/\s+/u).filter((t) => t.length > 0))].slice(0, MAX_TERMS);
  return texts.map((text) => ({ text, word: [...text].length < 3 && !DENSE.test(text) }));
}

/** The whole words of folded text. */
function words(folded: string): string[] {
  return folded.match(EVERY_WORD) ?? [];
}

/** Whether a message's text has every term (the definition of a match). */
export function matchesSearch(text: string, terms: readonly SearchTerm[]): boolean {
  const folded = foldForSearch(text);
  let wordSet: Set<string> | undefined;
  for (const term of terms) {
    if (term.word) {
      wordSet ??= new Set(words(folded));
      if (!wordSet.has(term.text)) return false;
    } else if (!folded.includes(term.text)) return false;
  }
  return true;
}

/**
 * What a message is indexed by, as one string whose every 3-character window is a key: its folded
 * text between EDGE marks, then each DENSE character and each short word (1-2 characters) wrapped
 * in EDGE marks, so that a 1- or 2-character term has a key of 3 or more characters too.
 */
export function searchDocument(text: string): string {
  const folded = foldForSearch(text);
  const extra = new Set<string>();
  for (const c of folded.match(EVERY_DENSE) ?? []) extra.add(`${EDGE}${c}${EDGE}`);
  // A word of 1 or 2 characters is at most 4 code units long (2 outside the BMP).
  for (const w of words(folded)) if (w.length <= 4 && [...w].length <= 2) extra.add(`${EDGE}${w}${EDGE}`);
  return `${EDGE}${folded}${EDGE}${EDGE}${[...extra].join('')}`;
}

/**
 * The distinct 3-character windows of a string (in code points). Each window is one slice of the
 * string between code point offsets: PostgreSQL's store computes this for every message it appends,
 * on the node's main thread, so no array is built per window.
 */
export function trigrams(s: string): string[] {
  const starts: number[] = [];
  for (let i = 0; i < s.length; i++) {
    starts.push(i);
    const unit = s.charCodeAt(i);
    // A surrogate pair is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  starts.push(s.length);
  const out = new Set<string>();
  for (let k = 0; k + 3 < starts.length; k++) out.add(s.slice(starts[k], starts[k + 3]));
  return [...out];
}

/** The most keys one term looks up: more only narrow further what the matcher checks anyway. */
const MAX_KEYS_PER_TERM = 12;

/**
 * The keys a message must have (all of them) to be a candidate for the query: every key is one of
 * searchDocument's windows for each message that matches, so an index look-up by them misses none.
 * Candidates are then checked with matchesSearch.
 */
export function searchKeys(terms: readonly SearchTerm[]): string[] {
  const keys = new Set<string>();
  for (const term of terms) {
    const chars = [...term.text];
    let own: string[];
    if (chars.length >= 3) own = trigrams(term.text);
    else if (term.word) own = trigrams(`${EDGE}${term.text}${EDGE}`);
    // A short term with a DENSE character: each of those characters' own keys.
    else own = chars.filter((c) => DENSE.test(c)).map((c) => `${EDGE}${c}${EDGE}`);
    for (const key of own.slice(0, MAX_KEYS_PER_TERM)) keys.add(key);
  }
  return [...keys];
}

/**
 * The keys PostgreSQL's search index stores per message: every distinct window of 3 code points of
 * the message's search document (an emoji or a character outside the BMP is one code point).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchDocument, trigrams } from '../../src/store/search-text.js';

/** The windows as the definition says: an array of code points, every 3 in a row, once each. */
function byDefinition(s: string): string[] {
  const chars = [...s];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(''));
  return [...out];
}

test('trigrams gives every distinct window of 3 code points, in order of first appearance', () => {
  assert.deepEqual(trigrams('abcab'), ['abc', 'bca', 'cab']);
  assert.deepEqual(trigrams('aaaa'), ['aaa']);
  assert.deepEqual(trigrams('ab'), []);
  assert.deepEqual(trigrams(''), []);
  // Outside the BMP: a surrogate pair is one character of a window.
  assert.deepEqual(trigrams('a😀b😀'), ['a😀b', '😀b😀']);
  assert.deepEqual(trigrams('𠮷野家'), ['𠮷野家']);
});

test('trigrams of search documents match the definition, lone surrogates included', () => {
  const texts = [
    'hello world, this is a message of about a hundred bytes from the bench: 1234567890 abcdefghij',
    'Grüße aus Köln, ça va? Ελληνικά και русский текст',
    '小明说：今天天气很好，我们去公园吧！🌳🌞',
    'emoji 👍🏽 and flags 🇫🇷🇩🇪 and a family 👨‍👩‍👧',
    'a lone high \ud800 and a lone low \udc00 surrogate, and one at the end \ud83d',
  ];
  for (const text of texts) {
    for (const s of [text, searchDocument(text)]) assert.deepEqual(trigrams(s), byDefinition(s), s);
  }
});

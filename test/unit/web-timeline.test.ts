import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatMessage } from '../../src/client/index.js';
import { highlightTerms } from '../../web/src/highlight.js';
import { mentionCandidates, mentionQuery, splitMentions } from '../../web/src/mentions.js';
import { badgeText, unreadCounts } from '../../web/src/unread.js';
import { shortText } from '../../web/src/format.js';

const ME = 1;
function msg(id: number, user: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { room: 'lobby', id, user: { id: user, name: `u${user}` }, data: `m${id}`, ts: id, ...extra };
}

describe('unread counts from the read marker', () => {
  const base = { lastRead: 2, latestId: 6, me: ME, completeFrom: 0, mentionIds: [] as number[] };

  it('counts the messages of others after the marker, not the own nor the deleted ones', () => {
    const messages = [msg(1, 2), msg(2, 2), msg(3, 2), msg(4, ME), msg(5, 2, { deleted: true, data: '' }), msg(6, 3)];
    assert.deepEqual(unreadCounts({ ...base, messages }), { count: 2, mentions: 0, atLeast: false });
  });

  it('counts the messages naming the user apart, from their mentions or from mention events', () => {
    const messages = [msg(3, 2, { mentions: [ME] }), msg(4, 2), msg(5, 3)];
    assert.deepEqual(unreadCounts({ ...base, messages, mentionIds: [4] }), { count: 3, mentions: 2, atLeast: false });
    // A mention told for a message not loaded counts too; one already read does not.
    assert.deepEqual(unreadCounts({ ...base, messages: [], mentionIds: [1, 9, 9], completeFrom: 10 }), { count: 1, mentions: 1, atLeast: true });
  });

  it('says when messages after the marker are not loaded, so there may be more', () => {
    const messages = [msg(5, 2), msg(6, 2)];
    assert.equal(unreadCounts({ ...base, messages, completeFrom: 5 }).atLeast, true);
    assert.equal(unreadCounts({ ...base, messages, completeFrom: 3 }).atLeast, false);
    assert.equal(unreadCounts({ ...base, messages, lastRead: 6, completeFrom: 50 }).atLeast, false, 'nothing unread');
  });

  it('writes badges as 7, 7+ and 99+', () => {
    assert.equal(badgeText(7), '7');
    assert.equal(badgeText(7, true), '7+');
    assert.equal(badgeText(120, true), '99+');
  });
});

describe('@names in a message', () => {
  it('finds the longest name that fits, case-insensitively, at the start of a word', () => {
    assert.deepEqual(splitMentions('hi @ann b and @ANN, see you', ['ann', 'ann b']), [
      { kind: 'text', text: 'hi ' },
      { kind: 'mention', text: '@ann b', name: 'ann b' },
      { kind: 'text', text: ' and ' },
      { kind: 'mention', text: '@ANN', name: 'ann' },
      { kind: 'text', text: ', see you' },
    ]);
  });

  it('leaves e-mail addresses, longer words and unknown names alone', () => {
    const text = 'mail ann@example.com, @annie and @bob';
    assert.deepEqual(splitMentions(text, ['ann']), [{ kind: 'text', text }]);
  });

  it('takes names in any script', () => {
    assert.deepEqual(splitMentions('@小明 你好', ['小明']), [
      { kind: 'mention', text: '@小明', name: '小明' },
      { kind: 'text', text: ' 你好' },
    ]);
  });

  it('offers the people whose name starts with what is typed, once each, not the user', () => {
    const people = [{ id: 1, name: 'Kim' }, { id: 2, name: 'kirk' }, { id: 3, name: 'Anna' }, { id: 2, name: 'kirk' }, { id: 4, name: 'Kiki' }];
    assert.deepEqual(mentionCandidates('KI', people, 1).map((u) => u.name), ['kirk', 'Kiki']);
    assert.deepEqual(mentionCandidates('', people, 1, 2).map((u) => u.name), ['kirk', 'Anna']);
  });

  it('sees the @name being typed, for completion', () => {
    assert.equal(mentionQuery('hello @al'), 'al');
    assert.equal(mentionQuery('@'), '');
    assert.equal(mentionQuery('mail ann@ex'), undefined);
    assert.equal(mentionQuery('@al done'), undefined);
  });
});

describe('search matches in a result', () => {
  it('marks every word of the query, case-insensitively', () => {
    assert.deepEqual(highlightTerms('The Quick fox, quickly', 'quick FOX'), [
      { text: 'The ', match: false },
      { text: 'Quick', match: true },
      { text: ' ', match: false },
      { text: 'fox', match: true },
      { text: ', ', match: false },
      { text: 'quick', match: true },
      { text: 'ly', match: false },
    ]);
  });

  it('marks Chinese by its characters and takes regex characters as text', () => {
    assert.deepEqual(highlightTerms('你好，大家好', '大家'), [
      { text: '你好，', match: false },
      { text: '大家', match: true },
      { text: '好', match: false },
    ]);
    assert.deepEqual(highlightTerms('a (b) c', '(b)'), [
      { text: 'a ', match: false },
      { text: '(b)', match: true },
      { text: ' c', match: false },
    ]);
  });
});

it('cuts a quoted message to one short line', () => {
  assert.equal(shortText('one\n  two', 80), 'one two');
  assert.equal(shortText('abcdefghij', 5), 'abcd…');
  assert.equal(shortText('🐼🐼🐼', 3), '🐼🐼🐼');
});

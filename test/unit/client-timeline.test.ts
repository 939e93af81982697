import assert from 'node:assert/strict';
import { test } from 'node:test';
import { foldEvent, Timeline, type ChatMessage, type TimelineEventFrame } from '../../src/client/index.js';

const ann = { id: 1, name: 'ann' };
const bob = { id: 2, name: 'bob' };
const message = (id: number, data: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({ room: 'r', id, user: ann, data, ts: 1000 + id, ...extra });
const react = (id: number, user: typeof ann, emoji: string, on: boolean, target = 1): TimelineEventFrame => ({ type: 'react', room: 'r', id, user, target, emoji, on, ts: 1000 + id });
const edit = (id: number, data: string, target = 1): TimelineEventFrame => ({ type: 'edit', room: 'r', id, user: ann, target, data, ts: 1000 + id });
const del = (id: number, target = 1): TimelineEventFrame => ({ type: 'delete', room: 'r', id, user: ann, target, ts: 1000 + id });

test('folds reactions keeping each emoji in its place, and drops an emoji nobody has', () => {
  let m = message(1, 'hi');
  for (const e of [react(2, ann, '👍', true), react(3, bob, '🎉', true), react(4, bob, '👍', true), react(5, ann, '👍', false)]) m = foldEvent(m, e);
  assert.deepEqual(Object.entries(m.reactions!), [['👍', [bob.id]], ['🎉', [bob.id]]]);
  m = foldEvent(foldEvent(m, react(6, bob, '👍', false)), react(7, bob, '🎉', false));
  assert.equal(m.reactions, undefined);
  assert.equal(foldEvent(m, react(8, bob, '👍', false)), m, 'taking back what is not on changes nothing');
});

test('folds an edit and a delete as the server does, and nothing into a deleted message', () => {
  const m = foldEvent(foldEvent(message(1, 'hi', { cid: 'c', reply: 0, mentions: [2] }), edit(2, 'hello')), react(3, bob, '👍', true));
  assert.deepEqual(m, { room: 'r', id: 1, user: ann, data: 'hello', ts: 1001, cid: 'c', reply: 0, mentions: [2], edited: 1002, reactions: { '👍': [bob.id] } });
  const gone = foldEvent(m, del(4));
  assert.deepEqual(gone, { room: 'r', id: 1, user: ann, data: '', ts: 1001, cid: 'c', reply: 0, deleted: true });
  assert.equal(foldEvent(gone, edit(5, 'back?')), gone);
  assert.equal(foldEvent(foldEvent(m, edit(6, 'newer')), edit(2, 'hello')).data, 'newer', 'an older edit does not undo a newer one');
});

test('folds into a page the events that came before it but after it was read, and not the others', () => {
  const t = new Timeline('r');
  // Live events arrive before the answer to a history request that was read before some of them.
  t.apply(react(3, bob, '👍', true));
  t.apply(react(4, ann, '👍', true));
  t.apply(edit(5, 'edited'));
  t.add({ data: [message(1, 'hi', { reactions: { '👍': [bob.id] } }), message(2, 'two')], lastId: 3 });
  assert.deepEqual(t.get(1), message(1, 'edited', { edited: 1005, reactions: { '👍': [bob.id, ann.id] } }));
  assert.deepEqual(t.messages.map((m) => m.id), [1, 2]);
  // A new message is kept; the same id again (a page had it) is not replaced by the live copy.
  assert.deepEqual(t.apply(message(6, 'six')), message(6, 'six'));
  assert.equal(t.apply(message(2, 'stale')), undefined);
  assert.equal(t.get(2)?.data, 'two');
  assert.equal(t.apply(edit(7, 'elsewhere', 99)), undefined, 'an event whose target is not held');
  assert.equal(t.apply({ ...message(8, 'other room'), room: 'other' }), undefined);
  t.forgetBefore(2);
  assert.deepEqual(t.messages.map((m) => m.id), [2, 6]);
});

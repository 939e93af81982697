import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatLine } from '../../src/cli/chat-commands.js';
import { formatChat } from '../../src/cli/chat-format.js';

test('parley chat reads plain lines as messages and / lines as commands', () => {
  assert.deepEqual(parseChatLine('hello there'), { kind: 'say', text: 'hello there' });
  assert.deepEqual(parseChatLine('//not a command'), { kind: 'say', text: '/not a command' });
  assert.deepEqual(parseChatLine('   '), { kind: 'empty' });
  assert.deepEqual(parseChatLine('/join général'), { kind: 'join', room: 'général' });
  assert.deepEqual(parseChatLine('/leave'), { kind: 'leave' });
  assert.deepEqual(parseChatLine('/leave side'), { kind: 'leave', room: 'side' });
  assert.deepEqual(parseChatLine('/dm bob  see you  later'), { kind: 'dm', target: 'bob', text: 'see you  later' });
  assert.deepEqual(parseChatLine('/WHO'), { kind: 'who' });
  assert.deepEqual(parseChatLine('/history'), { kind: 'history' });
  assert.deepEqual(parseChatLine('/history 5'), { kind: 'history', limit: 5 });
  assert.deepEqual(parseChatLine('/quit'), { kind: 'quit' });
  assert.deepEqual(parseChatLine('/help'), { kind: 'help' });
});

test('parley chat explains a command it cannot use', () => {
  assert.equal(parseChatLine('/join').kind, 'invalid');
  assert.equal(parseChatLine('/join a b').kind, 'invalid');
  assert.equal(parseChatLine('/dm bob').kind, 'invalid');
  assert.equal(parseChatLine('/history 0').kind, 'invalid');
  assert.equal(parseChatLine('/history 101').kind, 'invalid');
  assert.match((parseChatLine('/frob') as { message: string }).message, /unknown command \/frob/);
});

test('a message shows time and sender, and its room when it is not the current one', () => {
  const ts = new Date(2026, 0, 2, 9, 5).getTime();
  const m = { room: 'lobby', id: 1, user: { id: 1, name: 'ann' }, data: 'hi', ts };
  assert.equal(formatChat(m, 'lobby'), '09:05 ann: hi');
  assert.equal(formatChat(m, 'side'), '09:05 [lobby] ann: hi');
  const dm = { ...m, room: 'dm:1:2' };
  assert.equal(formatChat(dm, 'lobby', () => 'dm bob'), '09:05 [dm bob] ann: hi');
});

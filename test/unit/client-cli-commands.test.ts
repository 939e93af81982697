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
  assert.equal(formatChat(m, 'lobby'), '09:05 #1 ann: hi');
  assert.equal(formatChat(m, 'side'), '09:05 [lobby] #1 ann: hi');
  const dm = { ...m, room: 'dm:1:2' };
  assert.equal(formatChat(dm, 'lobby', { label: () => 'dm bob' }), '09:05 [dm bob] #1 ann: hi');
});

test('parley chat reads the timeline commands, message ids as the lines show them', () => {
  const timeline = (line: string) => {
    const cmd = parseChatLine(line);
    return cmd.kind === 'timeline' ? cmd.command : cmd;
  };
  assert.deepEqual(timeline('/edit #12 fixed  text'), { kind: 'edit', id: 12, text: 'fixed  text' });
  assert.deepEqual(timeline('/reply 3 yes'), { kind: 'reply', id: 3, text: 'yes' });
  assert.deepEqual(timeline('/delete #7'), { kind: 'delete', id: 7 });
  assert.deepEqual(timeline('/react 7 👍🏽'), { kind: 'react', id: 7, emoji: '👍🏽', on: true });
  assert.deepEqual(timeline('/unreact #7 🎉'), { kind: 'react', id: 7, emoji: '🎉', on: false });
  assert.deepEqual(timeline('/search deploy failed'), { kind: 'search', q: 'deploy failed' });
  assert.deepEqual(timeline('/search #ops 你好'), { kind: 'search', q: '你好', room: 'ops' });
  assert.deepEqual(timeline('/more'), { kind: 'more' });
});

test('parley chat refuses a timeline command with a bad argument, saying why', () => {
  const invalid = (line: string) => {
    const cmd = parseChatLine(line);
    assert.equal(cmd.kind, 'invalid', line);
    return (cmd as { message: string }).message;
  };
  assert.match(invalid('/edit twelve new text'), /usage: \/edit ID TEXT: ID is a message number .*not "twelve"/);
  assert.match(invalid('/edit 12'), /usage: \/edit ID TEXT/);
  assert.match(invalid('/delete 0'), /not "0"/);
  assert.match(invalid('/delete 1 2'), /usage: \/delete ID/);
  assert.match(invalid('/react 5 yes'), /"yes" is not one emoji/);
  assert.match(invalid('/react 5 👍👍'), /not one emoji/);
  assert.match(invalid('/unreact x 👍'), /usage: \/unreact ID EMOJI/);
  assert.match(invalid('/search'), /usage: \/search \[#ROOM\] WORDS/);
  assert.match(invalid('/search #ops'), /usage: \/search/);
  assert.match(invalid('/search #a/b words'), /"a\/b" is not a room name/);
  assert.match(invalid(`/search ${'x'.repeat(201)}`), /at most 200 characters/);
  assert.match(invalid('/more please'), /usage: \/more/);
});

test('a message line shows its state, what it answers and whether it names you', () => {
  const ts = new Date(2026, 0, 2, 9, 5).getTime();
  const first = { room: 'lobby', id: 1, user: { id: 1, name: 'ann' }, data: 'the first message of this room, long enough to be cut', ts };
  const reply = { room: 'lobby', id: 2, user: { id: 2, name: 'bob' }, data: 'hi @ann', ts, reply: 1, mentions: [1] };
  assert.equal(formatChat(reply, 'lobby', { answered: first }), '09:05 #2 bob: hi @ann  ↪ #1 ann: "the first message of this room…"');
  assert.equal(formatChat(reply, 'lobby'), '09:05 #2 bob: hi @ann  ↪ #1', 'the answered message not known here');
  assert.equal(formatChat(reply, 'lobby', { selfId: 1 }), '09:05 #2 bob: hi @ann  ↪ #1  (mentions you)');
  const folded = { ...first, data: 'fixed', edited: ts, reactions: { '👍': [2, 3], '🎉': [2] } };
  assert.equal(formatChat(folded, 'lobby'), '09:05 #1 ann: fixed (edited) [👍 2, 🎉 1]');
  assert.equal(formatChat({ ...first, data: '', deleted: true }, 'lobby'), '09:05 #1 ann: (deleted)');
});

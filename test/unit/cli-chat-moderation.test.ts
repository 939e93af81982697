import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChatLine } from '../../src/cli/chat-commands.js';
import { formatModeration } from '../../src/cli/chat-moderation.js';

describe('parley chat moderation commands', () => {
  it('parses /kick, /ban and /mute with minutes, /unban, /unmute, /op and /deop', () => {
    assert.deepEqual(parseChatLine('/kick sam'), { kind: 'moderate', action: 'kick', target: 'sam' });
    assert.deepEqual(parseChatLine('/ban sam 30'), { kind: 'moderate', action: 'ban', target: 'sam', minutes: 30 });
    assert.deepEqual(parseChatLine('/MUTE 42'), { kind: 'moderate', action: 'mute', target: '42' });
    assert.deepEqual(parseChatLine('/op ann'), { kind: 'moderate', action: 'op', target: 'ann' });
    for (const line of ['/ban', '/ban sam 0', '/ban sam 1.5', '/ban sam 600000', '/kick sam 5', '/unmute', '/deop a b']) {
      assert.equal(parseChatLine(line).kind, 'invalid', line);
    }
    assert.equal(parseChatLine('/frobnicate').kind, 'invalid');
  });

  it('shows what a moderator did as one line', () => {
    const base = { type: 'moderation' as const, room: 'lobby', user: { id: 2, name: 'sam' }, by: { id: 1, name: 'mia' }, ts: 0 };
    assert.equal(formatModeration({ ...base, action: 'kick' }, (r) => r), '* mia kicked sam in lobby');
    assert.match(formatModeration({ ...base, action: 'mute', until: Date.now() }, (r) => r), /^\* mia muted sam in lobby until \d\d:\d\d$/);
    assert.equal(formatModeration({ ...base, action: 'role', role: 'moderator' }, (r) => r), '* mia made sam a moderator of lobby');
  });
});

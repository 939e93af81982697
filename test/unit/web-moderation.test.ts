import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationText, inForce, moderationText, offeredActions, powerIn, timeLeft, type Power } from '../../web/src/moderation.js';

const member = { self: false, admin: false, role: undefined, muted: false, banned: false };

describe('the moderation actions a page offers on someone (the limits on power)', () => {
  it('offers a member nothing, and nothing in a DM even to an admin', () => {
    assert.deepEqual(offeredActions('member', member), []);
    assert.equal(powerIn({ admin: true, direct: true, role: undefined }), 'member');
    assert.equal(powerIn({ admin: true, direct: false, role: 'moderator' }), 'admin');
  });

  it('offers a moderator mute, kick and ban on a member, never roles, and nothing on the owner, another moderator, an admin or oneself', () => {
    assert.deepEqual(offeredActions('moderator', member), ['mute', 'kick', 'ban']);
    assert.deepEqual(offeredActions('moderator', { ...member, role: 'owner' }), []);
    assert.deepEqual(offeredActions('moderator', { ...member, role: 'moderator' }), []);
    assert.deepEqual(offeredActions('moderator', { ...member, admin: true }), []);
    assert.deepEqual(offeredActions('moderator', { ...member, self: true }), []);
  });

  it('offers the owner and an admin roles too; only an admin acts on the owner, and nobody makes the owner a moderator', () => {
    for (const power of ['owner', 'admin'] as Power[]) {
      assert.deepEqual(offeredActions(power, member), ['mute', 'kick', 'ban', 'promote']);
      assert.deepEqual(offeredActions(power, { ...member, role: 'moderator' }), ['mute', 'kick', 'ban', 'demote']);
    }
    assert.deepEqual(offeredActions('owner', { ...member, self: true, role: 'owner' }), []);
    assert.deepEqual(offeredActions('admin', { ...member, role: 'owner' }), ['mute', 'kick', 'ban']);
  });

  it('offers unmute to the muted and unban (no kick) to the banned', () => {
    assert.deepEqual(offeredActions('moderator', { ...member, muted: true }), ['unmute', 'kick', 'ban']);
    assert.deepEqual(offeredActions('moderator', { ...member, banned: true }), ['mute', 'unban']);
  });
});

describe('the words and clocks of moderation', () => {
  it('says a duration in its largest whole unit', () => {
    assert.equal(durationText(1), '1 minute');
    assert.equal(durationText(10), '10 minutes');
    assert.equal(durationText(60), '1 hour');
    assert.equal(durationText(90), '90 minutes');
    assert.equal(durationText(1440), '1 day');
    assert.equal(durationText(2880), '2 days');
  });

  it('counts down what is left, and knows when a timed restriction has ended', () => {
    assert.equal(timeLeft(600_000, 0), '10:00');
    assert.equal(timeLeft(3_600_000, 1000), '59:59');
    assert.equal(timeLeft(3_600_000, 0), '1:00:00');
    assert.equal(timeLeft(5 * 86_400_000, 0), '5 days');
    assert.equal(timeLeft(0, 5), '0:00');
    assert.equal(inForce(null, 5), true);
    assert.equal(inForce(10, 5), true);
    assert.equal(inForce(10, 10), false);
    assert.equal(inForce(undefined, 5), false);
  });

  it('writes a moderation line, with "you" for the reader', () => {
    const olga = { id: 1, name: 'olga' };
    const sam = { id: 2, name: 'sam' };
    assert.equal(moderationText({ action: 'mute', user: sam, by: olga, ts: 0, until: 600_000 }, 3), 'olga muted sam for 10 minutes');
    assert.equal(moderationText({ action: 'ban', user: sam, by: olga, ts: 0 }, 2), 'olga banned you');
    assert.equal(moderationText({ action: 'role', user: sam, by: olga, ts: 0, role: 'moderator' }, 1), 'You made sam a moderator');
    assert.equal(moderationText({ action: 'role', user: sam, by: olga, ts: 0, role: 'member' }, 3), 'olga removed sam as a moderator');
    assert.equal(moderationText({ action: 'delete', user: sam, by: olga, ts: 0 }, 3), 'olga deleted a message by sam');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { describeIssues } from '../../src/issues.js';
import { directRoomMembers, directRoomName, lookAlikeKeys, nameSkeletons, newRoomNameSchema, roomNameSchema, userNameSchema } from '../../src/protocol/names.js';

const ok = (s: string) => userNameSchema.safeParse(s).success;

describe('user names', () => {
  it('takes any script and emoji, trimmed and NFC-normalised', () => {
    assert.equal(userNameSchema.parse('  小明 '), '小明');
    assert.equal(userNameSchema.parse('Jose\u0301'), 'José');
    for (const name of ['alice', 'Мария', 'محمد', 'user_1', '👨‍👩‍👧 family', 'می‌خواهم', '🏴󠁧󠁢󠁳󠁣󠁴󠁿']) assert.ok(ok(name), name);
  });

  it('refuses empty, too long, control, invisible and broken names', () => {
    for (const name of ['', '   ', 'x'.repeat(33), 'a\nb', 'alice\u200b', '\u200b', '\u202eevil', 'b\ufeffob', 'bad\ud800', '\u0301']) {
      assert.ok(!ok(name), JSON.stringify(name));
    }
    assert.ok(ok('字'.repeat(32)), '32 characters of any width');
  });

  it('says what is wrong with a name once, naming the field once', () => {
    const body = z.object({ name: userNameSchema, data: z.string().min(1, 'must not be empty') });
    const problem = (value: object) => {
      const result = body.safeParse(value);
      assert.ok(!result.success);
      return describeIssues(result.error);
    };
    assert.equal(problem({ name: '   ', data: 'x' }), 'name must not be empty');
    assert.equal(problem({ name: 'x'.repeat(33), data: '' }), 'name must be at most 32 characters; data must not be empty');
  });
});

describe('look-alike names', () => {
  /** Whether a new name `b` passes for the account `a`: one of its look-alike keys is one of a's skeletons. */
  const alike = (a: string, b: string) => {
    const account = nameSkeletons(userNameSchema.parse(a));
    return lookAlikeKeys(userNameSchema.parse(b)).some((key) => key === account.folded || key === account.cased);
  };

  it('finds alice in full-width, Cyrillic, dotless-i, Turkish capital and other disguises', () => {
    for (const name of ['ａｌｉｃｅ', 'аlice', 'alıce', 'ALİCE', 'Alice', 'ALICE', 'al\u200dice', 'alic\u0435']) {
      assert.ok(alike('alice', name), JSON.stringify(name));
    }
    assert.ok(alike('Alice', 'AIice'), 'a capital I passes for a small l');
    // Whatever the case of the rest of the name.
    for (const [account, disguise] of [['alice', 'AIice'], ['alice', 'AIICE'], ['ALICE', 'AIICE'], ['AIex', 'alex'], ['Bill', 'biII'], ['MALLORY', 'maIlory'], ['william', 'WIIIIAM']]) {
      assert.ok(alike(account!, disguise!), `${disguise} looks like ${account}`);
    }
    assert.ok(alike('bob', 'b0b'), 'a zero passes for an o');
    assert.ok(alike('Ren\u00e9e', 'Rene\u0301e'), 'composed and decomposed accents');
  });

  it('keeps names that look different apart', () => {
    const distinct = ['Ann', 'Anna', '小明', '小朋', 'alice', 'alicia', 'Renée', 'Renee', 'Мария', 'Марина', 'bob', 'rob', 'Ian', 'Ivan', 'Lia'];
    for (const a of distinct) {
      for (const b of distinct) if (a !== b) assert.ok(!alike(a, b), `${a} and ${b}`);
    }
  });
});

describe('room names', () => {
  it('takes letters of any script, digits, _ . - with at least one letter or digit', () => {
    for (const name of ['lobby', '聊天室', 'team-2.0', 'a_b']) assert.ok(newRoomNameSchema.safeParse(name).success, name);
    for (const name of ['', '..', '.', '-_-', 'a b', 'a/b', 'dm:1:2', 'x'.repeat(65)]) {
      assert.ok(!newRoomNameSchema.safeParse(name).success, JSON.stringify(name));
    }
  });

  it('names a DM room by the two ids, sorted, and reads them back', () => {
    assert.equal(directRoomName(12, 3), 'dm:3:12');
    assert.deepEqual(directRoomMembers('dm:3:12'), [3, 12]);
    assert.equal(directRoomMembers('lobby'), undefined);
    assert.ok(roomNameSchema.safeParse('dm:3:12').success);
    assert.ok(!roomNameSchema.safeParse('dm:0:1').success);
  });
});

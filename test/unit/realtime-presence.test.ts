import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalPresence } from '../../src/broker/local-presence.js';

const ann = { id: 1, name: 'ann' };
const bo = { id: 2, name: 'bo' };

describe('LocalPresence', () => {
  it('counts a user once however many connections (tabs) they have, in any order of leaving', async () => {
    for (const order of [['c1', 'c2', 'c3'], ['c3', 'c1', 'c2'], ['c2', 'c3', 'c1']]) {
      const presence = new LocalPresence('test');
      assert.equal(await presence.add('r', ann, 'c1'), true, 'the first connection enters');
      assert.equal(await presence.add('r', ann, 'c2'), false);
      assert.equal(await presence.add('r', ann, 'c3'), false);
      assert.deepEqual(await presence.list('r'), [ann]);
      const left = [];
      for (const conn of order) left.push(await presence.remove('r', ann, conn));
      assert.deepEqual(left, [false, false, true], `only the last connection leaves (${order.join(', ')})`);
      assert.deepEqual(await presence.list('r'), []);
    }
  });

  it('ignores connections it does not know and repeated calls', async () => {
    const presence = new LocalPresence('test');
    assert.equal(await presence.remove('r', ann, 'c1'), false, 'nobody in the room yet');
    await presence.add('r', ann, 'c1');
    assert.equal(await presence.add('r', ann, 'c1'), false, 'the same connection again');
    assert.equal(await presence.remove('r', ann, 'other'), false);
    assert.equal(await presence.remove('r', ann, 'c1'), true);
    assert.equal(await presence.remove('r', ann, 'c1'), false, 'already gone');
    await presence.add('r', ann, 'c1');
    await presence.add('r', ann, 'c2');
    assert.equal(await presence.remove('r', ann, 'c2'), false);
    assert.equal(await presence.remove('r', ann, 'c2'), false, 'removed twice');
    assert.equal(await presence.remove('r', ann, 'c1'), true);
  });

  it('keeps rooms and users apart, and lists each room by name', async () => {
    const presence = new LocalPresence('test');
    await presence.add('r', bo, 'b1');
    await presence.add('r', ann, 'a1');
    await presence.add('s', ann, 'a1');
    assert.deepEqual(await presence.list('r'), [ann, bo]);
    assert.equal(await presence.remove('s', ann, 'a1'), true);
    assert.deepEqual(await presence.list('r'), [ann, bo], 'leaving one room keeps the other');
    assert.deepEqual(await presence.list('s'), []);
  });

  it('lists a room by name, then id, however users come and go (tabs, shared names, accents, CJK)', async () => {
    const names = ['ann', 'Ann', 'bo', 'Émile', 'emile', 'zoë', '李雷', '韩梅梅', 'ann', '', 'Bo 2', 'bo'];
    const presence = new LocalPresence('test');
    const inRoom = new Map<number, { id: number; name: string }>();
    // A fixed pseudo-random walk of joins and leaves, some users with a second connection.
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    for (let step = 0; step < 2000; step++) {
      const id = 1 + (next() % 60);
      const user = { id, name: names[id % names.length]! };
      const conn = `c${id}-${next() % 2}`;
      if (next() % 3 === 0) {
        const left = await presence.remove('r', user, conn);
        if (left) inRoom.delete(id);
      } else if (await presence.add('r', user, conn)) inRoom.set(id, user);
      const expected = [...inRoom.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id - b.id);
      assert.deepEqual(await presence.list('r'), expected, `after step ${step}`);
    }
    assert.ok(inRoom.size > 10, 'the walk keeps a crowd in the room');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBroker } from '../../src/broker/local.js';

const ann = { id: 1, name: 'ann' };
const bo = { id: 2, name: 'bo' };

describe('LocalBroker presence', () => {
  it('counts a user once however many connections (tabs) they have, in any order of leaving', async () => {
    for (const order of [['c1', 'c2', 'c3'], ['c3', 'c1', 'c2'], ['c2', 'c3', 'c1']]) {
      const broker = new LocalBroker();
      assert.equal(await broker.addPresence('r', ann, 'c1'), true, 'the first connection enters');
      assert.equal(await broker.addPresence('r', ann, 'c2'), false);
      assert.equal(await broker.addPresence('r', ann, 'c3'), false);
      assert.deepEqual(await broker.listPresence('r'), [ann]);
      const left = [];
      for (const conn of order) left.push(await broker.removePresence('r', ann, conn));
      assert.deepEqual(left, [false, false, true], `only the last connection leaves (${order.join(', ')})`);
      assert.deepEqual(await broker.listPresence('r'), []);
    }
  });

  it('ignores connections it does not know and repeated calls', async () => {
    const broker = new LocalBroker();
    assert.equal(await broker.removePresence('r', ann, 'c1'), false, 'nobody in the room yet');
    await broker.addPresence('r', ann, 'c1');
    assert.equal(await broker.addPresence('r', ann, 'c1'), false, 'the same connection again');
    assert.equal(await broker.removePresence('r', ann, 'other'), false);
    assert.equal(await broker.removePresence('r', ann, 'c1'), true);
    assert.equal(await broker.removePresence('r', ann, 'c1'), false, 'already gone');
    await broker.addPresence('r', ann, 'c1');
    await broker.addPresence('r', ann, 'c2');
    assert.equal(await broker.removePresence('r', ann, 'c2'), false);
    assert.equal(await broker.removePresence('r', ann, 'c2'), false, 'removed twice');
    assert.equal(await broker.removePresence('r', ann, 'c1'), true);
  });

  it('keeps rooms and users apart, and lists each room by name', async () => {
    const broker = new LocalBroker();
    await broker.addPresence('r', bo, 'b1');
    await broker.addPresence('r', ann, 'a1');
    await broker.addPresence('s', ann, 'a1');
    assert.deepEqual(await broker.listPresence('r'), [ann, bo]);
    assert.equal(await broker.removePresence('s', ann, 'a1'), true);
    assert.deepEqual(await broker.listPresence('r'), [ann, bo], 'leaving one room keeps the other');
    assert.deepEqual(await broker.listPresence('s'), []);
  });
});

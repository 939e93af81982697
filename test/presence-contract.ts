/**
 * The behaviour every Presence implementation must have. An implementation's test file calls
 * `runPresenceContract('LocalPresence', open, {nodes: 1})`; `open(n)` gives n fresh, empty
 * Presence instances that share their truth (n nodes; an in-process presence supports n = 1) and
 * a cleanup that closes them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Presence, PresenceUser } from '../src/broker/types.js';

export type OpenPresences = (count: number) => Promise<{ presences: Presence[]; cleanup: () => Promise<void> }>;

const ann = { id: 1, name: 'ann' };
const bo = { id: 2, name: 'bo' };

/** LocalPresence's order, spelled out again: by name as String#localeCompare sorts, then id. */
const byNameThenId = (a: PresenceUser, b: PresenceUser) => a.name.localeCompare(b.name) || a.id - b.id;

export function runPresenceContract(name: string, open: OpenPresences, options: { nodes: number }): void {
  const withPresences = (count: number, fn: (presences: Presence[]) => Promise<void>) => async () => {
    const { presences, cleanup } = await open(count);
    try {
      await fn(presences);
    } finally {
      await cleanup();
    }
  };

  describe(`Presence contract: ${name}`, () => {
    it('counts a user once however many connections (tabs) they have, in any order of leaving', async () => {
      for (const order of [['c1', 'c2', 'c3'], ['c3', 'c1', 'c2'], ['c2', 'c3', 'c1']]) {
        await withPresences(1, async ([presence]) => {
          assert.equal(await presence!.add('r', ann, 'c1'), true, 'the first connection enters');
          assert.equal(await presence!.add('r', ann, 'c2'), false);
          assert.equal(await presence!.add('r', ann, 'c3'), false);
          assert.deepEqual(await presence!.list('r'), [ann]);
          const left = [];
          for (const conn of order) left.push(await presence!.remove('r', ann, conn));
          assert.deepEqual(left, [false, false, true], `only the last connection leaves (${order.join(', ')})`);
          assert.deepEqual(await presence!.list('r'), []);
        })();
      }
    });

    it('ignores connections it does not know and repeated calls', withPresences(1, async ([presence]) => {
      assert.equal(await presence!.remove('r', ann, 'c1'), false, 'nobody in the room yet');
      await presence!.add('r', ann, 'c1');
      assert.equal(await presence!.add('r', ann, 'c1'), false, 'the same connection again');
      assert.equal(await presence!.remove('r', ann, 'other'), false);
      assert.equal(await presence!.remove('r', ann, 'c1'), true);
      assert.equal(await presence!.remove('r', ann, 'c1'), false, 'already gone');
      await presence!.add('r', ann, 'c1');
      await presence!.add('r', ann, 'c2');
      assert.equal(await presence!.remove('r', ann, 'c2'), false);
      assert.equal(await presence!.remove('r', ann, 'c2'), false, 'removed twice');
      assert.equal(await presence!.remove('r', ann, 'c1'), true);
    }));

    it('keeps rooms and users apart, and lists each room by name', withPresences(1, async ([presence]) => {
      await presence!.add('r', bo, 'b1');
      await presence!.add('r', ann, 'a1');
      await presence!.add('s', ann, 'a1');
      await presence!.add('dm:1:2', ann, 'a1');
      assert.deepEqual(await presence!.list('r'), [ann, bo]);
      assert.equal(await presence!.remove('s', ann, 'a1'), true);
      assert.deepEqual(await presence!.list('r'), [ann, bo], 'leaving one room keeps the other');
      assert.deepEqual(await presence!.list('s'), []);
      assert.deepEqual(await presence!.list('dm:1:2'), [ann]);
      assert.deepEqual(await presence!.list('nobody-here'), []);
    }));

    it('lists a room by name, then id, however users come and go (tabs, shared names, accents, CJK, emoji)', withPresences(options.nodes >= 2 ? 2 : 1, async (presences) => {
      const names = ['ann', 'Ann', 'bo', 'Émile', 'emile', 'zoë', '李雷', '韩梅梅', 'ann', 'Bo 2', 'bo', '🦊 fox', 'Ångström', 'ß', 'a|b'];
      const inRoom = new Map<number, PresenceUser>();
      // A fixed pseudo-random walk of joins and leaves, some users with a second connection (on
      // the second node, when there are two: entering and leaving then count across nodes).
      let seed = 7;
      const next = () => (seed = (seed * 48271) % 2147483647);
      for (let step = 0; step < 1500; step++) {
        const id = 1 + (next() % 60);
        const user = { id, name: names[id % names.length]! };
        const tab = next() % 2;
        const presence = presences[tab % presences.length]!;
        const conn = `c${id}-${tab}`;
        if (next() % 3 === 0) {
          const left = await presence.remove('r', user, conn);
          if (left) inRoom.delete(id);
        } else if (await presence.add('r', user, conn)) inRoom.set(id, user);
        const expected = [...inRoom.values()].sort(byNameThenId);
        for (const p of presences) assert.deepEqual(await p.list('r'), expected, `after step ${step}`);
      }
      assert.ok(inRoom.size > 10, 'the walk keeps a crowd in the room');
    }));

    it('keeps a guest apart from an account of the same name', withPresences(options.nodes >= 2 ? 2 : 1, async (presences) => {
      const guestSam = { id: 31, name: 'sam', guest: true as const };
      const accountSam = { id: 32, name: 'sam' };
      await presences[0]!.add('g', guestSam, 'g1');
      await presences.at(-1)!.add('g', accountSam, 'a1');
      for (const presence of presences) assert.deepEqual(await presence.list('g'), [guestSam, accountSam]);
    }));

    it('answers ping', withPresences(1, async ([presence]) => {
      assert.equal(await presence!.ping(), true);
    }));

    it('gives the same order for many users with equal and unusual names', withPresences(1, async ([presence]) => {
      const users = Array.from({ length: 300 }, (_, i) => ({ id: 1000 - i, name: ['same', 'Same', 'sáme', '同', '🙂', 'z', ''][i % 7]! }));
      for (const user of users) await presence!.add('crowd', user, `c${user.id}`);
      assert.deepEqual(await presence!.list('crowd'), [...users].sort(byNameThenId));
    }));

    if (options.nodes < 2) return;

    it('counts a user with tabs on two nodes once, and lets them leave once', withPresences(2, async ([a, b]) => {
      assert.equal(await a!.add('r', ann, 'tab-a'), true, 'the first tab enters');
      assert.equal(await b!.add('r', ann, 'tab-b'), false, 'the tab on the other node does not');
      assert.deepEqual(await a!.list('r'), [ann]);
      assert.deepEqual(await b!.list('r'), [ann]);
      assert.equal(await a!.remove('r', ann, 'tab-b'), false, "a node cannot remove another node's connection");
      assert.equal(await a!.remove('r', ann, 'tab-a'), false, 'still here on the other node');
      assert.deepEqual(await a!.list('r'), [ann]);
      assert.equal(await b!.remove('r', ann, 'tab-b'), true, 'the last tab leaves');
      assert.deepEqual(await a!.list('r'), []);
    }));

    it('decides entering and leaving once when two nodes race on the same user', withPresences(2, async ([a, b]) => {
      for (let round = 0; round < 50; round++) {
        const entered = await Promise.all([a!.add('race', bo, `a${round}`), b!.add('race', bo, `b${round}`)]);
        assert.equal(entered.filter(Boolean).length, 1, `one of two simultaneous adds enters (round ${round})`);
        const left = await Promise.all([a!.remove('race', bo, `a${round}`), b!.remove('race', bo, `b${round}`)]);
        assert.equal(left.filter(Boolean).length, 1, `one of two simultaneous removes leaves (round ${round})`);
      }
    }));
  });
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireUser } from '../../src/protocol/frames.js';
import { RoomAccess, inForce } from '../../src/realtime/access.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

describe('RoomAccess and moderation', () => {
  it('a ban or mute is in force until its until, and for good without one', () => {
    const now = 1_800_000_000_000;
    const list = new Map<number, number | undefined>([
      [1, now + 60_000],
      [2, undefined],
    ]);
    assert.equal(inForce(list, 1, now), true);
    assert.equal(inForce(list, 1, now + 60_000), false, 'a timed one ends by itself');
    assert.equal(inForce(list, 2, now + 1e12), true);
    assert.equal(inForce(list, 3, now), false);
  });

  it('refuses a banned user with banned and a muted one posting with muted; reads the rules again once told', async () => {
    const store = await SqliteStore.open(':memory:');
    try {
      const owner = await store.createUser({ name: 'owner', passwordHash: 'x', guest: false });
      const u = wireUser(await store.createUser({ name: 'u', passwordHash: null, guest: true }));
      await store.createRoom({ name: 'hall', private: false, createdBy: owner.id });
      const access = new RoomAccess(store, ['Owner']);
      await access.check(u, 'hall', true);
      await store.moderate({ room: 'hall', action: 'mute', user: u.id, by: owner.id, ts: Date.now() });
      await access.check(u, 'hall', true); // cached: not told yet
      access.forget('hall');
      await access.check(u, 'hall');
      await assert.rejects(access.check(u, 'hall', true), { code: 'muted' });
      await store.moderate({ room: 'hall', action: 'ban', user: u.id, by: owner.id, ts: Date.now() });
      access.forgetAll();
      await assert.rejects(access.check(u, 'hall'), { code: 'banned' });
      assert.equal(access.isAdmin({ ...owner }), true, 'ADMINS by name, case aside');
      assert.equal(access.isAdmin({ id: 99, name: 'owner', guest: true }), false, 'never a guest');
    } finally {
      await store.close();
    }
  });
});

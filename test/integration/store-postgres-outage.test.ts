/**
 * PostgreSQL going away under a PostgresStore: stopped (a restart), or frozen (a network that no
 * longer answers). Every call must reject with StoreUnavailableError within seconds instead of
 * hanging, ping() must answer false, and once PostgreSQL is back the same store must work again by
 * itself. A stream of appends that retries what failed with the same cids (as the SDK does) must
 * end with every acked message stored once, at the id it was acked with, and no gap.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { StoreUnavailableError, type NewMessage, type Store, type User } from '../../src/store/types.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { chats, messagesOf } from '../helpers/appended.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(() => server.close());

let clock = 1_700_000_000_000;
const message = (room: string, user: User, data: string, cid: string): NewMessage => ({
  room,
  user: { id: user.id, name: user.name },
  data,
  cid,
  ts: clock++,
});

/** Every method of the Store, called once with plausible arguments. */
const everyCall = (store: Store, user: User): Array<[string, () => Promise<unknown>]> => [
  ['createUser', () => store.createUser({ name: 'newcomer', passwordHash: null, guest: true })],
  ['findRegisteredUser', () => store.findRegisteredUser('writer')],
  ['getUser', () => store.getUser(user.id)],
  ['createRoom', () => store.createRoom({ name: 'another', private: false, createdBy: null })],
  ['getRoom', () => store.getRoom('r')],
  ['listRooms', () => store.listRooms(user.id)],
  ['welcomeRooms', () => store.welcomeRooms(user.id, Date.now())],
  ['addMember', () => store.addMember('r', user.id)],
  ['isMember', () => store.isMember('r', user.id)],
  ['ensureDirectRoom', () => store.ensureDirectRoom(user.id, user.id + 1)],
  ['appendMessages', () => store.appendMessages([message('r', user, 'while down', 'down-1')])],
  ['history', () => store.history('r', { limit: 10 })],
  ['oldestKeptId', () => store.oldestKeptId('r')],
  ['lastIds', () => store.lastIds(['r'])],
  ['lastIdBefore', () => store.lastIdBefore('r', Date.now())],
  ['prune', () => store.prune('r', 1000)],
  ['moderate', () => store.moderate({ room: 'r', action: 'mute', user: user.id, by: user.id, ts: Date.now() })],
  ['roomModeration', () => store.roomModeration('r', Date.now())],
  ['setUserBanned', () => store.setUserBanned(user.id, true)],
];

async function assertAllUnavailable(store: Store, user: User): Promise<void> {
  for (const [name, call] of everyCall(store, user)) {
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof StoreUnavailableError, `${name}: ${String(err)}`);
      assert.equal(err.code, 'unavailable');
      return true;
    });
  }
  assert.equal(await store.ping(), false);
}

/** Waits (bounded) until `done()` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !done(); i++) await sleep(50);
  assert.ok(done(), `timed out waiting for ${what}`);
}

describe('PostgresStore when PostgreSQL goes away', () => {
  it('refuses calls while PostgreSQL is stopped, recovers once it is started, and loses no acked append', async () => {
    const db = await server.createDatabase();
    const store = await PostgresStore.open(db.url);
    try {
      const user = await store.createUser({ name: 'writer', passwordHash: 'scrypt$x', guest: false });
      await store.createRoom({ name: 'r', private: false, createdBy: null });

      // One batch at a time, as the hub sends them; a batch that failed is sent again, same cids.
      const acked = new Map<string, number>();
      let failures = 0;
      let stopping = false;
      const stream = (async () => {
        let pending: NewMessage[] = [];
        for (let n = 0, attempts = 0; (!stopping || pending.length > 0) && attempts < 5000; attempts++) {
          if (pending.length === 0) pending = Array.from({ length: 5 }, () => message('r', user, `m${++n}`, `c${n}`));
          try {
            for (const r of chats(await store.appendMessages(pending))) acked.set(r.message.cid!, r.message.id);
            pending = [];
          } catch (err) {
            assert.ok(err instanceof StoreUnavailableError, String(err));
            failures++;
            await sleep(20);
          }
        }
      })();

      await until(() => acked.size >= 100, 'appends before the stop');
      await server.stop();
      await until(() => failures > 0, 'an append to fail');
      await assertAllUnavailable(store, user);
      const ackedWhileDown = acked.size;

      await server.start();
      await until(() => acked.size >= ackedWhileDown + 100, 'appends after the start');
      stopping = true;
      await stream;
      assert.equal(await store.ping(), true);

      const stored = messagesOf(await store.history('r', { after: 0, limit: 1000 }));
      assert.deepEqual(stored.map((m) => m.id), Array.from({ length: stored.length }, (_, i) => i + 1), 'no gap');
      assert.equal(new Set(stored.map((m) => m.cid)).size, stored.length, 'no cid twice');
      for (const [cid, id] of acked) assert.equal(stored.find((m) => m.cid === cid)?.id, id, `acked ${cid} is stored at ${id}`);
      assert.equal(stored.length, acked.size, 'nothing stored that was not acked in the end');
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it('rejects within seconds, rather than hang, while PostgreSQL does not answer, and recovers', { timeout: 30_000 }, async () => {
    const db = await server.createDatabase();
    const store = await PostgresStore.open(db.url);
    const user = await store.createUser({ name: 'writer', passwordHash: 'scrypt$x', guest: false });
    await store.createRoom({ name: 'r', private: false, createdBy: null });
    chats(await store.appendMessages([message('r', user, 'before', 'b-1')]));
    await server.pause();
    try {
      // Each call waits for its connection or its answer no longer than the store's timeouts; the
      // test's own timeout (below) is what fails it if one hangs.
      const calls = everyCall(store, user).map(async ([name, call]) => {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof StoreUnavailableError, `${name}: ${String(err)}`);
          return true;
        });
      });
      await Promise.all([...calls, (async () => assert.equal(await store.ping(), false))()]);
    } finally {
      await server.resume();
    }
    try {
      const [later] = chats(await store.appendMessages([message('r', user, 'after', 'a-1')]));
      assert.deepEqual([later!.message.id, later!.duplicate], [2, false]);
      assert.deepEqual((messagesOf(await store.history('r', { limit: 10 }))).map((m) => m.data), ['before', 'after']);
      assert.equal(await store.ping(), true);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

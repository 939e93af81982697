import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkerStore } from '../../src/store/sqlite/worker-store.js';
import { NameTakenError, NoSuchRoomError, RoomExistsError, type NewMessage } from '../../src/store/types.js';
import { runStoreContract } from '../store-contract.js';
import { chats, messagesOf } from '../helpers/appended.js';

const tempDir = () => mkdtemp(join(tmpdir(), 'parley-worker-store-'));

runStoreContract(
  'WorkerStore',
  async () => {
    const dir = await tempDir();
    const store = await WorkerStore.open(join(dir, 'parley.db'));
    return {
      store,
      cleanup: async () => {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  async () => {
    const dir = await tempDir();
    // Two store threads on one file: their transactions really run at the same time.
    const stores = [await WorkerStore.open(join(dir, 'parley.db')), await WorkerStore.open(join(dir, 'parley.db'))] as [WorkerStore, WorkerStore];
    return {
      stores,
      cleanup: async () => {
        for (const store of stores) await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
);

describe('WorkerStore', () => {
  it("gives back the store's own errors as their classes", async () => {
    const store = await WorkerStore.open(':memory:');
    try {
      await store.createUser({ name: 'Ann', passwordHash: 'h', guest: false });
      await assert.rejects(store.createUser({ name: 'ann', passwordHash: 'h', guest: false }), (err: unknown) => {
        assert.ok(err instanceof NameTakenError);
        assert.equal(err.code, 'name_taken');
        assert.match(err.message, /"ann" is taken/);
        return true;
      });
      await store.createRoom({ name: 'r', private: false, createdBy: null });
      await assert.rejects(store.createRoom({ name: 'r', private: false, createdBy: null }), RoomExistsError);
      const lost: NewMessage = { room: 'nowhere', user: { id: 1, name: 'Ann' }, data: 'x', ts: 1 };
      await assert.rejects(store.appendMessages([lost]), NoSuchRoomError);
    } finally {
      await store.close();
    }
  });

  it('answers calls in the order they were made', async () => {
    const store = await WorkerStore.open(':memory:');
    try {
      await store.createRoom({ name: 'r', private: false, createdBy: null });
      const user = { id: 7, name: 'Bo' };
      // Not awaited one by one: the history read is posted right behind the appends.
      const appends = [1, 2, 3].map((n) => store.appendMessages([{ room: 'r', user, data: `m${n}`, ts: n }]));
      const history = store.history('r', { limit: 10 });
      assert.deepEqual((await Promise.all(appends)).map((r) => chats(r)[0]!.message.id), [1, 2, 3]);
      assert.deepEqual(messagesOf(await history).map((m) => m.data), ['m1', 'm2', 'm3']);
    } finally {
      await store.close();
    }
  });

  it('carries each message of a batch across whole, with or without a cid, and no more of the sender', async () => {
    const store = await WorkerStore.open(':memory:');
    try {
      await store.createRoom({ name: 'r', private: false, createdBy: null });
      // A connection's user carries more than the message should (here a session field).
      const sender = { id: 7, name: 'Bo 字', token: 'secret' };
      const batch: NewMessage[] = [
        { room: 'r', user: sender, data: 'first', ts: 10, cid: 'a' },
        { room: 'r', user: sender, data: '', ts: 11 },
        { room: 'r', user: sender, data: 'third "quoted"', ts: 12, cid: '' },
      ];
      const results = chats(await store.appendMessages(batch));
      const expected = [
        { room: 'r', id: 1, user: { id: 7, name: 'Bo 字' }, data: 'first', ts: 10, cid: 'a' },
        { room: 'r', id: 2, user: { id: 7, name: 'Bo 字' }, data: '', ts: 11 },
        { room: 'r', id: 3, user: { id: 7, name: 'Bo 字' }, data: 'third "quoted"', ts: 12, cid: '' },
      ];
      assert.deepEqual(results.map((r) => r.message), expected);
      assert.deepEqual(messagesOf(await store.history('r', { limit: 10 })), expected);
    } finally {
      await store.close();
    }
  });

  it('keeps each field of a mixed batch apart: rooms, senders, emoji and empty texts', async () => {
    const store = await WorkerStore.open(':memory:');
    try {
      await store.createRoom({ name: 'r', private: false, createdBy: null });
      await store.createRoom({ name: '房间 🏠', private: false, createdBy: null });
      const ann = { id: 3, name: 'Ann' };
      const zoe = { id: 40, name: '佐伊 👩‍💻' };
      const batch: NewMessage[] = [
        { room: '房间 🏠', user: zoe, data: '😀 two surrogates, then text', ts: 1.5, cid: 'ü-1' },
        { room: 'r', user: ann, data: 'x'.repeat(5000), ts: 2 },
        { room: '房间 🏠', user: ann, data: '', ts: 3, cid: '' },
        { room: 'r', user: zoe, data: 'back\\slash "and" \n', ts: 4, cid: 'c'.repeat(64) },
      ];
      const results = chats(await store.appendMessages(batch));
      assert.deepEqual(
        results.map((r) => r.message),
        [
          { ...batch[0], id: 1 },
          { ...batch[1], id: 1 },
          { ...batch[2], id: 2 },
          { ...batch[3], id: 2 },
        ],
      );
      assert.deepEqual(
        (messagesOf(await store.history('房间 🏠', { limit: 10 }))).map((m) => [m.user.name, m.data, m.cid]),
        [
          ['佐伊 👩‍💻', '😀 two surrogates, then text', 'ü-1'],
          ['Ann', '', ''],
        ],
      );
      assert.deepEqual(
        (messagesOf(await store.history('r', { limit: 10 }))).map((m) => [m.user.id, m.data.length, m.cid]),
        [
          [3, 5000, undefined],
          [40, batch[3]!.data.length, 'c'.repeat(64)],
        ],
      );
    } finally {
      await store.close();
    }
  });

  it('keeps the event loop free while a large batch commits', async () => {
    const store = await WorkerStore.open(':memory:');
    try {
      await store.createRoom({ name: 'big', private: false, createdBy: null });
      const user = { id: 1, name: 'Cy' };
      const batch = Array.from({ length: 50_000 }, (_, i): NewMessage => ({ room: 'big', user, data: `message ${i}`, ts: i, cid: `c${i}` }));
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      const results = chats(await store.appendMessages(batch));
      clearInterval(ticker);
      assert.equal(results.length, batch.length);
      assert.equal(results.at(-1)!.message.id, batch.length);
      assert.equal(results.at(-1)!.message.cid, `c${batch.length - 1}`);
      assert.ok(turns > 0, 'timers ran while the batch was being stored');
    } finally {
      await store.close();
    }
  });

  it('refuses calls once closed, and says it is not ready', async () => {
    const store = await WorkerStore.open(':memory:');
    assert.equal(await store.ping(), true);
    await store.close();
    await store.close();
    assert.equal(await store.ping(), false);
    await assert.rejects(store.getRoom('r'), /closed/);
  });

  it('fails to open a database it cannot create, with the reason', async () => {
    const dir = await tempDir();
    try {
      await assert.rejects(WorkerStore.open(join(dir, 'missing', 'sub', 'parley.db')), /unable to open|directory/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { MIGRATIONS, SchemaTooNewError, migrate } from '../../src/store/sqlite/migrations.js';
import { openSqliteStore, SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { NameTakenError, type NewMessage } from '../../src/store/types.js';
import { runStoreContract } from '../store-contract.js';
import { chats, messagesOf } from '../helpers/appended.js';

const tempDir = () => mkdtemp(join(tmpdir(), 'parley-store-'));

runStoreContract(
  'SqliteStore',
  async () => {
    const dir = await tempDir();
    const store = await openSqliteStore(dir);
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
    // Two connections to one file, as two processes would have (moving messages_recent often).
    const stores = [await SqliteStore.open(join(dir, 'parley.db'), { recentLimit: 100 }), await SqliteStore.open(join(dir, 'parley.db'), { recentLimit: 100 })] as [
      SqliteStore,
      SqliteStore,
    ];
    return {
      stores,
      cleanup: async () => {
        for (const store of stores) await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
);

runStoreContract('SqliteStore in memory', async () => {
  const store = await SqliteStore.open(':memory:');
  return { store, cleanup: () => store.close() };
});

// Messages move from messages_recent into messages every few appends, so every behaviour is also
// checked with a room's messages split between the two tables and moved in the middle of a batch.
runStoreContract('SqliteStore moving messages_recent every 3 messages', async () => {
  const dir = await tempDir();
  const store = await SqliteStore.open(join(dir, 'parley.db'), { recentLimit: 3 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

/** Runs `fn` with a fresh data dir that is removed afterwards. */
const inTempDir = (fn: (dir: string) => Promise<void>) => async () => {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

const message = (room: string, user: { id: number; name: string }, data: string, cid?: string): NewMessage => ({
  room,
  user: { id: user.id, name: user.name },
  data,
  ts: Date.now(),
  ...(cid === undefined ? {} : { cid }),
});

describe('SqliteStore on disk', () => {
  it('creates a missing data dir and parley.db in it', inTempDir(async (dir) => {
    const dataDir = join(dir, 'nested', 'data');
    const store = await openSqliteStore(dataDir);
    try {
      assert.equal(store.file, join(dataDir, 'parley.db'));
      assert.ok(existsSync(store.file));
      assert.equal(await store.ping(), true);
    } finally {
      await store.close();
    }
  }));

  it('uses WAL, synchronous=NORMAL, a busy timeout and foreign keys', inTempDir(async (dir) => {
    const store = await openSqliteStore(dir);
    try {
      const settings = store.settings();
      assert.equal(settings.journalMode, 'wal');
      assert.equal(settings.synchronous, 'NORMAL');
      assert.ok(settings.busyTimeoutMs > 0);
      assert.equal(settings.foreignKeys, true);
    } finally {
      await store.close();
    }
    // WAL is a property of the file: another connection sees it too.
    const db = new Database(join(dir, 'parley.db'), { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  }));

  it('keeps accounts, rooms, members and messages across close and reopen, and continues ids', inTempDir(async (dir) => {
    let store = await openSqliteStore(dir);
    const alice = await store.createUser({ name: 'Alice', passwordHash: 'scrypt$x', guest: false });
    const bob = await store.createUser({ name: '小明', passwordHash: null, guest: true });
    await store.createRoom({ name: 'lobby', private: false, createdBy: null });
    await store.createRoom({ name: 'secret', private: true, createdBy: alice.id });
    const dm = await store.ensureDirectRoom(alice.id, bob.id);
    chats(await store.appendMessages([message('lobby', alice, 'one', 'c1'), message('lobby', bob, 'two 🎉'), message(dm.name, bob, 'psst')]));
    await store.close();

    store = await openSqliteStore(dir);
    try {
      assert.deepEqual(await store.getUser(alice.id), alice);
      assert.deepEqual(await store.getUser(bob.id), bob);
      assert.equal((await store.findRegisteredUser('alice'))?.passwordHash, 'scrypt$x');
      await assert.rejects(store.createUser({ name: 'ALICE', passwordHash: 'h', guest: false }), { code: 'name_taken' });
      assert.equal(await store.isMember('secret', alice.id), true);
      assert.deepEqual((await store.listRooms(bob.id)).map((r) => r.name), [dm.name, 'lobby']);
      assert.deepEqual((messagesOf(await store.history('lobby', { limit: 10 }))).map((m) => [m.id, m.user.name, m.data]), [
        [1, 'Alice', 'one'],
        [2, '小明', 'two 🎉'],
      ]);
      // The cid is still known, and numbering continues where it stopped.
      const results = chats(await store.appendMessages([message('lobby', alice, 'one', 'c1'), message('lobby', alice, 'three')]));
      assert.deepEqual(results.map((r) => [r.message.id, r.duplicate]), [[1, true], [3, false]]);
      assert.equal((await store.getRoom(dm.name))?.lastId, 1);
    } finally {
      await store.close();
    }
  }));

  it('never reuses a user id, even of the newest account after it is deleted', inTempDir(async (dir) => {
    let store = await openSqliteStore(dir);
    const first = await store.createUser({ name: 'temp', passwordHash: null, guest: true });
    await store.close();
    // There is no deleteUser in the Store; delete behind its back to prove AUTOINCREMENT.
    const db = new Database(join(dir, 'parley.db'));
    db.prepare('DELETE FROM users WHERE id = ?').run(first.id);
    db.close();
    store = await openSqliteStore(dir);
    try {
      const second = await store.createUser({ name: 'temp', passwordHash: null, guest: true });
      assert.ok(second.id > first.id, `${second.id} > ${first.id}`);
    } finally {
      await store.close();
    }
  }));

  it('sees a second store writing the same file (one node, two connections)', inTempDir(async (dir) => {
    const one = await openSqliteStore(dir);
    const two = await openSqliteStore(dir);
    try {
      const u = await one.createUser({ name: 'w', passwordHash: null, guest: true });
      await one.createRoom({ name: 'shared', private: false, createdBy: null });
      chats(await one.appendMessages([message('shared', u, 'from one')]));
      chats(await two.appendMessages([message('shared', u, 'from two')]));
      chats(await one.appendMessages([message('shared', u, 'from one again')]));
      assert.deepEqual((messagesOf(await two.history('shared', { limit: 10 }))).map((m) => [m.id, m.data]), [
        [1, 'from one'],
        [2, 'from two'],
        [3, 'from one again'],
      ]);
    } finally {
      await one.close();
      await two.close();
    }
  }));
});

/** A child process that appends `count` messages in batches, says so, and is killed with SIGKILL. */
const WRITE_THEN_DIE = `
  import { openSqliteStore } from ${JSON.stringify(new URL('../../src/store/sqlite/sqlite-store.ts', import.meta.url).href)};
  const [dir, count] = [process.argv[1], Number(process.argv[2])];
  const store = await openSqliteStore(dir);
  const user = await store.createUser({ name: 'doomed', passwordHash: null, guest: true });
  await store.createRoom({ name: 'crash', private: false, createdBy: null });
  for (let i = 1; i <= count; i += 2) {
    await store.appendMessages([
      { room: 'crash', user, data: 'm' + i, ts: i, cid: 'c' + i },
      { room: 'crash', user, data: 'm' + (i + 1), ts: i + 1 },
    ]);
  }
  process.stdout.write('committed\\n', () => process.kill(process.pid, 'SIGKILL'));
`;

describe('SqliteStore appendMessages', () => {
  for (const recentLimit of [3, 10_000]) {
    it(`numbers interleaved rooms in array order and stores repeated cids once (recentLimit ${recentLimit})`, async () => {
      const store = await SqliteStore.open(':memory:', { recentLimit });
      try {
        const a = await store.createUser({ name: 'a', passwordHash: null, guest: true });
        const b = await store.createUser({ name: 'b', passwordHash: null, guest: true });
        await store.createRoom({ name: 'r1', private: false, createdBy: null });
        await store.createRoom({ name: 'r2', private: false, createdBy: null });
        const results = chats(await store.appendMessages([
          message('r1', a, 'r1 first', 'x'),
          message('r2', b, 'r2 first', 'x'),
          message('r1', a, 'r1 retry of first', 'x'),
          message('r2', a, 'r2 second', 'x'),
          message('r1', b, 'r1 second', 'x'),
          message('r2', b, 'r2 retry of first', 'x'),
          message('r1', a, 'r1 third'),
        ]));
        assert.deepEqual(results.map((r) => [r.message.room, r.message.id, r.message.data, r.duplicate]), [
          ['r1', 1, 'r1 first', false],
          ['r2', 1, 'r2 first', false],
          ['r1', 1, 'r1 first', true],
          ['r2', 2, 'r2 second', false],
          ['r1', 2, 'r1 second', false],
          ['r2', 1, 'r2 first', true],
          ['r1', 3, 'r1 third', false],
        ]);
        // A retry in a later batch finds it too, and a duplicate takes no id.
        const later = chats(await store.appendMessages([message('r2', a, 'again', 'x'), message('r2', a, 'new')]));
        assert.deepEqual(later.map((r) => [r.message.id, r.duplicate]), [[2, true], [3, false]]);
        assert.deepEqual((await store.getRoom('r1'))?.lastId, 3);
        assert.deepEqual((await store.getRoom('r2'))?.lastId, 3);
        assert.deepEqual((messagesOf(await store.history('r1', { limit: 10 }))).map((m) => m.data), ['r1 first', 'r1 second', 'r1 third']);
      } finally {
        await store.close();
      }
    });
  }

  it('finds retries of moved messages among many in one batch, whatever their room and sender', async () => {
    // recentLimit 1: every message has left the staging tables for messages before its retry, so
    // each retry is found by the look-up in messages, which takes the cids several at a time.
    const store = await SqliteStore.open(':memory:', { recentLimit: 1 });
    try {
      const users = [
        await store.createUser({ name: 'a', passwordHash: null, guest: true }),
        await store.createUser({ name: 'b', passwordHash: null, guest: true }),
      ];
      const rooms = ['r0', 'r1', 'r2'];
      for (const name of rooms) await store.createRoom({ name, private: false, createdBy: null });
      const originals = Array.from({ length: 150 }, (_, i) => message(rooms[i % 3]!, users[i % 2]!, `m${i}`, `c${i % 50}`));
      // One per batch: a table being moved gives up a chunk of about two rows per batch.
      const first = [];
      for (const m of originals) first.push(...(chats(await store.appendMessages([m]))));
      // No two originals share room, sender and cid: i % 3, i % 2 and i % 50 together fix i below 150.
      assert.ok(first.every((r) => !r.duplicate));
      for (let i = 0; i < 4; i++) chats(await store.appendMessages([message('r0', users[0]!, `push ${i}`)]));
      // Retries in reverse order, each between two new messages: the same cid from the other
      // sender, or in another room, is a new message.
      const batch: NewMessage[] = [];
      for (let i = 149; i >= 0; i--) {
        batch.push(message(rooms[i % 3]!, users[i % 2]!, `retry ${i}`, `c${i % 50}`));
        batch.push(message(rooms[i % 3]!, users[(i + 1) % 2]!, `other sender ${i}`, `n${i}`));
      }
      const results = chats(await store.appendMessages(batch));
      for (let k = 0; k < 150; k++) {
        const i = 149 - k;
        const retry = results[2 * k]!;
        assert.deepEqual([retry.duplicate, retry.message.id, retry.message.data], [true, first[i]!.message.id, `m${i}`]);
        assert.equal(results[2 * k + 1]!.duplicate, false);
      }
      assert.equal((await store.getRoom('r1'))?.lastId, 50 + 50);
    } finally {
      await store.close();
    }
  });

  it('knows the cids that another connection stored since, and forgets none on its own prune', inTempDir(async (dir) => {
    // Neither connection moves messages here: every cid is found through its in-memory copy.
    const file = join(dir, 'parley.db');
    const one = await SqliteStore.open(file);
    const two = await SqliteStore.open(file);
    try {
      const u = await one.createUser({ name: 'w', passwordHash: null, guest: true });
      await one.createRoom({ name: 'shared', private: false, createdBy: null });
      chats(await one.appendMessages([message('shared', u, 'a', 'ca')]));
      const [fromTwo] = chats(await two.appendMessages([message('shared', u, 'a again', 'ca'), message('shared', u, 'b', 'cb')]));
      assert.deepEqual([fromTwo!.message.id, fromTwo!.duplicate], [1, true]);
      const [fromOne] = chats(await one.appendMessages([message('shared', u, 'b again', 'cb')]));
      assert.deepEqual([fromOne!.message.id, fromOne!.message.data, fromOne!.duplicate], [2, 'b', true]);
      // A pruned message's cid goes with it, for both connections.
      assert.equal(await two.prune('shared', 1), 1);
      const again = chats(await one.appendMessages([message('shared', u, 'a anew', 'ca'), message('shared', u, 'b again', 'cb')]));
      assert.deepEqual(again.map((r) => [r.message.id, r.duplicate]), [[3, false], [2, true]]);
      const [third] = chats(await two.appendMessages([message('shared', u, 'a anew again', 'ca')]));
      assert.deepEqual([third!.message.id, third!.duplicate], [3, true]);
    } finally {
      await one.close();
      await two.close();
    }
  }));

  for (const recentLimit of [1, 10_000]) {
    it(`forgets the cid of a pruned message, and only that one (recentLimit ${recentLimit})`, async () => {
      const store = await SqliteStore.open(':memory:', { recentLimit });
      try {
        const u = await store.createUser({ name: 'w', passwordHash: null, guest: true });
        await store.createRoom({ name: 'r', private: false, createdBy: null });
        chats(await store.appendMessages([message('r', u, 'one', 'c1'), message('r', u, 'two', 'c2')]));
        assert.equal(await store.prune('r', 1), 1);
        const results = chats(await store.appendMessages([message('r', u, 'one anew', 'c1'), message('r', u, 'two again', 'c2')]));
        assert.deepEqual(results.map((r) => [r.message.id, r.message.data, r.duplicate]), [[3, 'one anew', false], [2, 'two', true]]);
      } finally {
        await store.close();
      }
    });
  }

  it('moves a full staging table into messages a chunk per batch, reading every message once meanwhile', inTempDir(async (dir) => {
    const store = await SqliteStore.open(join(dir, 'parley.db'), { recentLimit: 8 });
    const look = new Database(join(dir, 'parley.db'), { readonly: true });
    const count = (table: string) => look.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    try {
      const u = await store.createUser({ name: 'w', passwordHash: null, guest: true });
      for (const room of ['a', 'b', 'c']) await store.createRoom({ name: room, private: false, createdBy: null });
      // 30 messages fill the first staging table past its limit: the next ones land in the other.
      const first = Array.from({ length: 30 }, (_, i) => message(['a', 'b', 'c'][i % 3]!, u, `m${i}`, `c${i}`));
      chats(await store.appendMessages(first));
      assert.deepEqual([count('messages'), count('messages_recent'), count('messages_recent_b')], [0, 30, 0]);
      let sent = 30;
      const seen: number[] = [];
      for (let batch = 0; count('messages_recent') > 0; batch++) {
        assert.ok(batch < 30, 'the full table is moved within a few batches');
        chats(await store.appendMessages([message('a', u, `m${sent}`, `c${sent}`)]));
        sent++;
        seen.push(count('messages'));
        // While the table is moved, its moved rows are in two tables; every reader sees them once.
        const a = messagesOf(await store.history('a', { after: 0, limit: 100 }));
        assert.deepEqual(a.map((m) => m.id), Array.from({ length: a.length }, (_, i) => i + 1));
        assert.deepEqual((messagesOf(await store.history('b', { limit: 100 }))).map((m) => m.id), Array.from({ length: 10 }, (_, i) => i + 1));
        assert.equal(await store.oldestKeptId('c'), 1);
        const [retry] = chats(await store.appendMessages([message('b', u, 'again', 'c1')]));
        assert.deepEqual([retry!.message.id, retry!.duplicate], [1, true]);
      }
      // Moved in chunks (more than one batch, each moving some), then emptied at once.
      assert.ok(seen.length > 1 && seen[0]! > 0 && seen[0]! < 30, `moved ${seen.join(', ')}`);
      assert.equal(count('messages'), 30);
      assert.equal(await store.prune('b', 4), 6);
      assert.deepEqual((messagesOf(await store.history('b', { limit: 100 }))).map((m) => m.id), [7, 8, 9, 10]);
      assert.equal(await store.prune('a', 0), sent - 20);
      assert.equal(await store.oldestKeptId('a'), undefined);
    } finally {
      look.close();
      await store.close();
    }
  }));

  it('counts each pruned message once while its staging table is being moved', async () => {
    const store = await SqliteStore.open(':memory:', { recentLimit: 8 });
    try {
      const u = await store.createUser({ name: 'w', passwordHash: null, guest: true });
      await store.createRoom({ name: 'r', private: false, createdBy: null });
      chats(await store.appendMessages(Array.from({ length: 40 }, (_, i) => message('r', u, `m${i}`))));
      // One message more: a first chunk of the 40 moves, the rest waits.
      chats(await store.appendMessages([message('r', u, 'm40')]));
      assert.equal(await store.prune('r', 5), 36);
      assert.deepEqual((messagesOf(await store.history('r', { after: 0, limit: 100 }))).map((m) => m.id), [37, 38, 39, 40, 41]);
      assert.equal(await store.oldestKeptId('r'), 37);
    } finally {
      await store.close();
    }
  });

  it('keeps two connections on one file consistent while both move messages', inTempDir(async (dir) => {
    const file = join(dir, 'parley.db');
    const one = await SqliteStore.open(file, { recentLimit: 4 });
    const two = await SqliteStore.open(file, { recentLimit: 5 });
    try {
      const u = await one.createUser({ name: 'w', passwordHash: null, guest: true });
      await one.createRoom({ name: 'shared', private: false, createdBy: null });
      const stored: number[] = [];
      for (let i = 0; i < 12; i++) {
        const store = i % 3 === 0 ? two : one;
        const results = chats(await store.appendMessages([message('shared', u, `m${i}`, `c${i}`), message('shared', u, `n${i}`)]));
        stored.push(...results.map((r) => r.message.id));
      }
      assert.deepEqual(stored, Array.from({ length: 24 }, (_, i) => i + 1));
      // Each connection recognises the other's cids, wherever they are now.
      for (const [store, i] of [[one, 0], [two, 1], [one, 11]] as const) {
        const [retry] = chats(await store.appendMessages([message('shared', u, 'again', `c${i}`)]));
        assert.deepEqual([retry!.message.id, retry!.duplicate], [2 * i + 1, true]);
      }
      const all = messagesOf(await two.history('shared', { after: 0, limit: 100 }));
      assert.deepEqual(all.map((m) => m.id), stored);
      assert.equal(await one.prune('shared', 5), 19);
      assert.equal(await two.oldestKeptId('shared'), 20);
      assert.deepEqual((messagesOf(await one.history('shared', { limit: 100 }))).map((m) => m.id), [20, 21, 22, 23, 24]);
    } finally {
      await one.close();
      await two.close();
    }
  }));
});

/** How many times the background checkpointer has started the WAL over (read from another connection). */
const walRestarts = (file: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT wal_restarts FROM store_state').pluck().get() as number;
  } finally {
    db.close();
  }
};

/** Appends about `mb` MB of messages to `room` in batches of 100, pausing so that checkpoints can finish. */
async function writeMegabytes(store: SqliteStore, room: string, user: { id: number; name: string }, mb: number): Promise<void> {
  for (let b = 0; b < mb * 5; b++) {
    chats(await store.appendMessages(Array.from({ length: 100 }, (_, i) => message(room, user, `${b}.${i} ${'x'.repeat(2000)}`))));
    await sleep(5);
  }
}

describe('SqliteStore background checkpoint', () => {
  it('starts the WAL over from its own thread once all of it is copied', inTempDir(async (dir) => {
    const store = await openSqliteStore(dir);
    try {
      const u = await store.createUser({ name: 'w', passwordHash: null, guest: true });
      await store.createRoom({ name: 'big', private: false, createdBy: null });
      assert.equal(walRestarts(store.file), 0);
      // ~6 MB: more than the 1,000 frames from which the checkpointer starts the WAL over.
      await writeMegabytes(store, 'big', u, 6);
      for (let tries = 0; walRestarts(store.file) === 0 && tries < 200; tries++) await sleep(25);
      assert.ok(walRestarts(store.file) > 0, 'the checkpointer made the commit that starts the WAL over');
      assert.equal((messagesOf(await store.history('big', { after: 0, limit: 1000 }))).length, 1000);
    } finally {
      await store.close();
    }
  }));

  it('works when the store itself runs in a worker thread', inTempDir(async (dir) => {
    // As WorkerStore runs it: the checkpointer's thread is then a thread's thread.
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.tsx).then(({ register }) => {
        register();
        return import(workerData.entry);
      }).then(async ({ openSqliteStore }) => {
        const store = await openSqliteStore(workerData.dir);
        const user = await store.createUser({ name: 'w', passwordHash: null, guest: true });
        await store.createRoom({ name: 'big', private: false, createdBy: null });
        for (let b = 0; b < 30; b++) {
          const batch = [];
          for (let i = 0; i < 100; i++) batch.push({ room: 'big', user, data: b + '.' + i + ' ' + 'x'.repeat(2000), ts: 1, cid: b + '.' + i });
          await store.appendMessages(batch);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        parentPort.postMessage('written');
        await new Promise((resolve) => parentPort.once('message', resolve));
        await store.close();
        parentPort.postMessage('closed');
      }).catch((err) => parentPort.postMessage(String(err && err.stack || err)));
    `;
    const entry = new URL('../../src/store/sqlite/sqlite-store.ts', import.meta.url).href;
    const worker = new Worker(source, { eval: true, workerData: { tsx: import.meta.resolve('tsx/esm/api'), entry, dir } });
    try {
      const next = () => new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      assert.equal(await next(), 'written');
      const file = join(dir, 'parley.db');
      for (let tries = 0; walRestarts(file) === 0 && tries < 200; tries++) await sleep(25);
      assert.ok(walRestarts(file) > 0, 'the nested checkpointer started the WAL over');
      worker.postMessage('close');
      assert.equal(await next(), 'closed');
    } finally {
      await worker.terminate();
    }
  }));

  it('copies committed pages from the WAL into the database file while the store is open', inTempDir(async (dir) => {
    const store = await openSqliteStore(dir);
    try {
      const u = await store.createUser({ name: 'w', passwordHash: null, guest: true });
      await store.createRoom({ name: 'big', private: false, createdBy: null });
      const file = join(dir, 'parley.db');
      const before = statSync(file).size;
      // About 6 MB of messages: past the 1,000 frames at which the checkpointer copies the WAL, far
      // below the threshold at which the writer would checkpoint itself.
      for (let b = 0; b < 30; b++) {
        chats(await store.appendMessages(Array.from({ length: 100 }, (_, i) => message('big', u, `${b}.${i} ${'x'.repeat(2000)}`))));
      }
      // Only another thread can have grown the file: this connection has not checkpointed. The
      // checkpointer copies in steps, so wait for the whole growth, not the first of it.
      for (let tries = 0; statSync(file).size <= before + 1_000_000 && tries < 200; tries++) await sleep(25);
      assert.ok(statSync(file).size > before + 1_000_000, `${statSync(file).size} > ${before} + 1 MB`);
      assert.equal((messagesOf(await store.history('big', { limit: 1000 }))).length, 1000);
    } finally {
      await store.close();
    }
  }));
});

describe('SqliteStore durability', () => {
  it('keeps every committed message when the process is killed with SIGKILL', inTempDir(async (dir) => {
    const count = 200;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITE_THEN_DIE, dir, String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL');
    assert.equal(out, 'committed\n');

    const store = await openSqliteStore(dir);
    try {
      const kept = messagesOf(await store.history('crash', { after: 0, limit: 1000 }));
      assert.deepEqual(kept.map((m) => m.id), Array.from({ length: count }, (_, i) => i + 1));
      assert.equal(kept.at(-1)?.data, `m${count}`);
      assert.equal((await store.getRoom('crash'))?.lastId, count);
      const [retry] = chats(await store.appendMessages([{ room: 'crash', user: kept[0]!.user, data: 'again', ts: 0, cid: 'c1' }]));
      assert.deepEqual([retry!.message.id, retry!.duplicate], [1, true]);
    } finally {
      await store.close();
    }
  }));
});

describe('SqliteStore migrations', () => {
  it('records every migration once and applies nothing on a second open', inTempDir(async (dir) => {
    await (await openSqliteStore(dir)).close();
    await (await openSqliteStore(dir)).close();
    const db = new Database(join(dir, 'parley.db'));
    try {
      const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
      assert.deepEqual(migrate(db), []);
      assert.deepEqual(migrate(db), []);
    } finally {
      db.close();
    }
  }));

  it('applies only the steps that are new', () => {
    const db = new Database(':memory:');
    try {
      assert.deepEqual(migrate(db), MIGRATIONS.map((m) => m.version));
      const next = MIGRATIONS.length + 1;
      const extended = [...MIGRATIONS, { version: next, name: 'add a column', sql: 'ALTER TABLE rooms ADD COLUMN topic TEXT' }];
      assert.deepEqual(migrate(db, extended), [next]);
      assert.deepEqual(migrate(db, extended), []);
      const columns = db.prepare("SELECT name FROM pragma_table_info('rooms')").pluck().all();
      assert.ok(columns.includes('topic'));
    } finally {
      db.close();
    }
  });

  it('rolls a failing step back entirely', () => {
    const db = new Database(':memory:');
    try {
      migrate(db);
      const next = MIGRATIONS.length + 1;
      const broken = [...MIGRATIONS, { version: next, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); SELECT nope FROM nowhere;' }];
      assert.throws(() => migrate(db, broken));
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      assert.ok(!tables.includes('half'));
      const versions = db.prepare('SELECT version FROM schema_migrations').pluck().all();
      assert.ok(!versions.includes(next));
    } finally {
      db.close();
    }
  });

  it('opens a database of the first schema with its messages, continuing ids and knowing its cids', inTempDir(async (dir) => {
    // A file as the first release left it: only migration 1, written without the Store.
    const first = MIGRATIONS.filter((m) => m.version === 1);
    const db = new Database(join(dir, 'parley.db'));
    db.pragma('journal_mode = WAL');
    migrate(db, first);
    db.prepare("INSERT INTO users (id, name, name_key, password_hash, guest, created_at) VALUES (7, 'Old', 'old', NULL, 1, 1)").run();
    db.prepare("INSERT INTO rooms (name, private, direct, created_by, created_at, last_id) VALUES ('lobby', 0, 0, NULL, 1, 3)").run();
    const insert = db.prepare('INSERT INTO messages (room, id, user_id, user_name, data, ts, cid) VALUES (?, ?, ?, ?, ?, ?, ?)');
    insert.run('lobby', 1, 7, 'Old', 'one', 1, 'c1');
    insert.run('lobby', 2, 7, 'Old', 'two', 2, null);
    insert.run('lobby', 3, 7, 'Old', 'three', 3, 'c3');
    db.close();

    const store = await openSqliteStore(dir);
    try {
      const old = { id: 7, name: 'Old' };
      assert.deepEqual((messagesOf(await store.history('lobby', { limit: 10 }))).map((m) => [m.id, m.data, m.cid]), [
        [1, 'one', 'c1'],
        [2, 'two', undefined],
        [3, 'three', 'c3'],
      ]);
      const results = chats(await store.appendMessages([message('lobby', old, 'one again', 'c1'), message('lobby', old, 'four', 'c4'), message('lobby', old, 'three again', 'c3')]));
      assert.deepEqual(results.map((r) => [r.message.id, r.message.data, r.duplicate]), [
        [1, 'one', true],
        [4, 'four', false],
        [3, 'three', true],
      ]);
      assert.equal((await store.getRoom('lobby'))?.lastId, 4);
      assert.equal(await store.oldestKeptId('lobby'), 1);
    } finally {
      await store.close();
    }
    const check = new Database(join(dir, 'parley.db'), { readonly: true });
    try {
      assert.deepEqual(check.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), MIGRATIONS.map((m) => m.version));
    } finally {
      check.close();
    }
  }));

  it('opens a database of schema 2 with messages waiting in messages_recent, knowing their cids', inTempDir(async (dir) => {
    // As schema 2 left it: some messages moved into messages, the newest still in messages_recent.
    const db = new Database(join(dir, 'parley.db'));
    db.pragma('journal_mode = WAL');
    migrate(db, MIGRATIONS.filter((m) => m.version <= 2));
    db.prepare("INSERT INTO users (id, name, name_key, password_hash, guest, created_at) VALUES (7, 'Old', 'old', NULL, 1, 1)").run();
    db.prepare("INSERT INTO rooms (name, private, direct, created_by, created_at, last_id) VALUES ('lobby', 0, 0, NULL, 1, 4)").run();
    const moved = db.prepare('INSERT INTO messages (room, id, user_id, user_name, data, ts, cid) VALUES (?, ?, ?, ?, ?, ?, ?)');
    moved.run('lobby', 1, 7, 'Old', 'one', 1, 'c1');
    moved.run('lobby', 2, 7, 'Old', 'two', 2, null);
    const waiting = db.prepare(
      'INSERT INTO messages_recent (room, id, user_id, user_name, data, ts, cid, cid_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    waiting.run('lobby', 3, 7, 'Old', 'three', 3, 'c3', 12345);
    waiting.run('lobby', 4, 7, 'Old', 'four', 4, null, null);
    db.close();

    const store = await openSqliteStore(dir);
    try {
      const old = { id: 7, name: 'Old' };
      assert.deepEqual((messagesOf(await store.history('lobby', { limit: 10 }))).map((m) => [m.id, m.data, m.cid]), [
        [1, 'one', 'c1'],
        [2, 'two', undefined],
        [3, 'three', 'c3'],
        [4, 'four', undefined],
      ]);
      const results = chats(await store.appendMessages([
        message('lobby', old, 'three again', 'c3'),
        message('lobby', old, 'five', 'c5'),
        message('lobby', old, 'one again', 'c1'),
      ]));
      assert.deepEqual(results.map((r) => [r.message.id, r.message.data, r.duplicate]), [
        [3, 'three', true],
        [5, 'five', false],
        [1, 'one', true],
      ]);
      assert.equal((await store.getRoom('lobby'))?.lastId, 5);
    } finally {
      await store.close();
    }
    const check = new Database(join(dir, 'parley.db'), { readonly: true });
    try {
      assert.deepEqual(check.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), MIGRATIONS.map((m) => m.version));
      assert.equal(check.prepare('SELECT count(*) FROM messages_recent').pluck().get(), 3);
    } finally {
      check.close();
    }
  }));

  it('opens a database of schema 13 with bans and mutes in force, naming who put each in force from the audit log', inTempDir(async (dir) => {
    const db = new Database(join(dir, 'parley.db'));
    db.pragma('journal_mode = WAL');
    migrate(db, MIGRATIONS.filter((m) => m.version <= 13));
    const user = db.prepare("INSERT INTO users (id, name, name_key, password_hash, guest, created_at) VALUES (?, ?, ?, NULL, 1, 1)");
    user.run(1, 'olga', 'olga');
    user.run(2, 'mia', 'mia');
    user.run(3, 'sam', 'sam');
    db.prepare("INSERT INTO rooms (name, private, direct, created_by, created_at, last_id) VALUES ('help', 0, 0, 1, 1, 0)").run();
    const restrict = db.prepare('INSERT INTO room_restrictions (room, user_id, kind, until) VALUES (?, ?, ?, ?)');
    restrict.run('help', 3, 'ban', null);
    restrict.run('help', 3, 'mute', null);
    const audit = db.prepare('INSERT INTO audit_log (room, action, user_id, by_id, ts) VALUES (?, ?, ?, ?, ?)');
    audit.run('help', 'ban', 3, 1, 1); // olga banned him first…
    audit.run('help', 'ban', 3, 2, 2); // …mia again, which is the ban in force
    audit.run('help', 'mute', 3, 1, 3);
    db.close();

    const store = await openSqliteStore(dir);
    try {
      assert.deepEqual((await store.welcomeRooms(3, 10)).moderation.restrictions, [
        { room: 'help', kind: 'ban', by: { id: 2, name: 'mia', guest: true } },
        { room: 'help', kind: 'mute', by: { id: 1, name: 'olga', guest: true } },
      ]);
    } finally {
      await store.close();
    }
  }));

  it('keeps accounts made before look-alike names were refused, and refuses new look-alikes of them', inTempDir(async (dir) => {
    // As schema 4 left it: registered names that look alike (Cyrillic а, full-width), and a guest.
    const db = new Database(join(dir, 'parley.db'));
    db.pragma('journal_mode = WAL');
    migrate(db, MIGRATIONS.filter((m) => m.version <= 4));
    const insert = db.prepare('INSERT INTO users (id, name, name_key, password_hash, guest, created_at) VALUES (?, ?, ?, ?, ?, 1)');
    insert.run(1, 'alice', 'alice', 'scrypt$one', 0);
    insert.run(2, '\u0430lice', '\u0430lice', 'scrypt$two', 0);
    insert.run(3, 'ａｌｉｃｅ', 'ａｌｉｃｅ', 'scrypt$three', 0);
    insert.run(4, 'alice', 'alice', null, 1);
    insert.run(5, 'Bob', 'bob', 'scrypt$five', 0);
    db.close();

    const store = await openSqliteStore(dir);
    try {
      // Every account is kept and logs in under its own name.
      for (const [name, id] of [['alice', 1], ['\u0430lice', 2], ['ａｌｉｃｅ', 3], ['BOB', 5]] as const) {
        assert.equal((await store.findRegisteredUser(name))?.id, id, name);
      }
      assert.deepEqual(await store.getUser(4), { id: 4, name: 'alice', guest: true });
      for (const name of ['alıce', 'ALİCE', 'b0b']) {
        await assert.rejects(store.createUser({ name, passwordHash: null, guest: true }), NameTakenError, name);
        await assert.rejects(store.createUser({ name, passwordHash: 'scrypt$x', guest: false }), NameTakenError, name);
      }
      assert.equal((await store.createUser({ name: 'carol', passwordHash: 'scrypt$x', guest: false })).name, 'carol');
    } finally {
      await store.close();
    }
  }));

  it('refuses a file written by a newer schema', inTempDir(async (dir) => {
    await (await openSqliteStore(dir)).close();
    const db = new Database(join(dir, 'parley.db'));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(9999, 'future', Date.now());
    db.close();
    await assert.rejects(openSqliteStore(dir), SchemaTooNewError);
  }));
});

describe('SqliteStore erasing deleted messages', () => {
  it('leaves no copy of a deleted message\'s texts in a backup made after (VACUUM INTO), staged or moved', inTempDir(async (dir) => {
    const store = await SqliteStore.open(join(dir, 'parley.db'), { recentLimit: 8 });
    try {
      const u = await store.createUser({ name: 'ann', passwordHash: null, guest: true });
      const who = { id: u.id, name: u.name };
      await store.createRoom({ name: 'r', private: false, createdBy: null });
      const secrets = ['the launch code is 0000-Z9Y8X7', 'moved-text QWERTY-SECRET-1', 'edited-text QWERTY-SECRET-2'];
      // One message moves into messages (many after it), one stays staged; one edit text on top.
      chats(await store.appendMessages([message('r', who, secrets[1]!)]));
      for (let i = 0; i < 30; i++) chats(await store.appendMessages([message('r', who, `filler ${i}`)]));
      chats(await store.appendMessages([message('r', who, secrets[0]!)]));
      await store.appendMessages([{ kind: 'edit', room: 'r', user: who, target: 1, data: secrets[2]!, ts: 1 }]);
      store.indexForSearch();
      await store.appendMessages([
        { kind: 'delete', room: 'r', user: who, target: 1, ts: 2 },
        { kind: 'delete', room: 'r', user: who, target: 32, ts: 3 },
      ]);
      const backup = join(dir, 'backup.db');
      const db = new Database(join(dir, 'parley.db'));
      db.prepare('VACUUM INTO ?').run(backup);
      db.close();
      const bytes = readFileSync(backup);
      for (const secret of secrets) assert.equal(bytes.indexOf(Buffer.from(secret)), -1, `"${secret}" is in the backup`);
      assert.notEqual(bytes.indexOf(Buffer.from('filler 7')), -1, 'the backup has the other messages');
      assert.deepEqual((await store.search({ userId: u.id, q: 'QWERTY', limit: 10 })).data, []);
      assert.equal((await store.search({ userId: u.id, q: 'filler', limit: 50 })).data.length, 30);
    } finally {
      await store.close();
    }
  }));
});

describe('SqliteStore search index', () => {
  const words = ['deploy', 'build', 'hello', 'ok', 'book', 'ok!', 'Café', '你好', '大家', '好', '天气', '🎉', '👍🏽', 'a', 'x1', '会议'];
  const queries = ['deploy', 'hello ok', 'ok', 'a', 'book', 'café', '你好', '好', '大家好', '🎉', '👍🏽', 'x1', '会', 'deploy 你好', 'nothing', '天气 🎉', 'o', 'ok!'];
  /** Every page of a query, as (room, id, data) lines. */
  const allPages = async (store: SqliteStore, userId: number, q: string): Promise<string[]> => {
    const lines: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await store.search({ userId, q, limit: 7, ...(before === undefined ? {} : { before }) });
      lines.push(...page.data.map((m) => `${m.room}#${m.id} ${m.data}`));
      if (!page.more) return lines;
      before = page.data.at(-1)!.ts;
    }
  };

  it('finds the same through the index as by reading the messages, across edits, deletes and prunes', inTempDir(async (dir) => {
    const store = await SqliteStore.open(join(dir, 'parley.db'), { recentLimit: 50, searchIndexDelayMs: 60_000 });
    try {
      const u = await store.createUser({ name: 'ann', passwordHash: null, guest: true });
      const who = { id: u.id, name: u.name };
      for (const room of ['r1', 'r2', 'r3']) await store.createRoom({ name: room, private: false, createdBy: null });
      let seed = 7;
      const rnd = (n: number) => ((seed = (seed * 48271) % 2147483647) % n);
      const batch: NewMessage[] = [];
      for (let i = 0; i < 600; i++) {
        const text = Array.from({ length: 1 + rnd(5) }, () => words[rnd(words.length)]).join(rnd(2) ? ' ' : '');
        batch.push(message(`r${1 + rnd(3)}`, who, text));
        batch[i]!.ts = 1000 + Math.floor(i / 4);
      }
      chats(await store.appendMessages(batch));
      const unindexed = await Promise.all(queries.map((q) => allPages(store, u.id, q)));
      assert.ok(store.indexForSearch() >= 600);
      const indexed = await Promise.all(queries.map((q) => allPages(store, u.id, q)));
      assert.deepEqual(indexed, unindexed);
      // "o" is a one-letter term: a whole word, and there is none.
      assert.deepEqual(queries.filter((_, i) => indexed[i]!.length === 0), ['nothing', 'o']);
      // Changes to indexed messages reach the index in their own transaction.
      const [gone] = (await store.messages('r2', { after: 1, limit: 1 })).data;
      assert.ok((await allPages(store, u.id, gone!.data.split(/\s/)[0]!)).some((l) => l.startsWith(`r2#${gone!.id} `)));
      await store.appendMessages([
        { kind: 'edit', room: 'r1', user: who, target: 1, data: 'zebra crossing', ts: 5000 },
        { kind: 'delete', room: 'r2', user: who, target: gone!.id, ts: 5001 },
      ]);
      chats(await store.appendMessages([message('r3', who, 'zebra at the end')]));
      assert.deepEqual(await allPages(store, u.id, 'zebra'), [`r3#${(await store.getRoom('r3'))!.lastId} zebra at the end`, 'r1#1 zebra crossing']);
      assert.ok(!(await allPages(store, u.id, gone!.data.split(/\s/)[0]!)).some((l) => l.startsWith(`r2#${gone!.id} `)), 'a deleted message is not found');
      const r1 = (await store.getRoom('r1'))!.lastId;
      await store.prune('r1', 10);
      const after = await Promise.all(queries.map((q) => allPages(store, u.id, q)));
      store.indexForSearch();
      assert.deepEqual(await Promise.all(queries.map((q) => allPages(store, u.id, q))), after);
      const r1Ids = after.flat().filter((l) => l.startsWith('r1#')).map((l) => Number(l.slice(3).split(' ')[0]));
      assert.ok(r1Ids.length > 0 && r1Ids.every((id) => id > r1 - 10), 'pruned messages are not found');
    } finally {
      await store.close();
    }
  }));

  it('indexes by itself once writes pause, and after a restart goes on where it was', inTempDir(async (dir) => {
    const file = join(dir, 'parley.db');
    let store = await SqliteStore.open(file, { searchIndexDelayMs: 20 });
    const u = await store.createUser({ name: 'ann', passwordHash: null, guest: true });
    await store.createRoom({ name: 'r', private: false, createdBy: null });
    chats(await store.appendMessages([message('r', u, 'first words')]));
    const look = new Database(file, { readonly: true });
    try {
      const indexedId = () => look.prepare("SELECT indexed_id FROM rooms WHERE name = 'r'").pluck().get() as number;
      for (let i = 0; i < 100 && indexedId() < 1; i++) await sleep(20);
      assert.equal(indexedId(), 1);
      await store.close();
      store = await SqliteStore.open(file, { searchIndexDelayMs: 60_000 });
      chats(await store.appendMessages([message('r', u, 'second words')]));
      assert.equal(store.indexForSearch(), 1, 'only the new message');
      assert.deepEqual((await store.search({ userId: u.id, q: 'words', limit: 10 })).data.map((m) => m.data), ['second words', 'first words']);
    } finally {
      look.close();
      await store.close();
    }
  }));
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, SchemaTooNewError, migrate } from '../../src/store/sqlite/migrations.js';
import { openSqliteStore, SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { NewMessage } from '../../src/store/types.js';
import { runStoreContract } from '../store-contract.js';

const tempDir = () => mkdtemp(join(tmpdir(), 'parley-store-'));

runStoreContract('SqliteStore', async () => {
  const dir = await tempDir();
  const store = await openSqliteStore(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

runStoreContract('SqliteStore in memory', async () => {
  const store = await SqliteStore.open(':memory:');
  return { store, cleanup: () => store.close() };
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
    await store.appendMessages([message('lobby', alice, 'one', 'c1'), message('lobby', bob, 'two 🎉'), message(dm.name, bob, 'psst')]);
    await store.close();

    store = await openSqliteStore(dir);
    try {
      assert.deepEqual(await store.getUser(alice.id), alice);
      assert.deepEqual(await store.getUser(bob.id), bob);
      assert.equal((await store.findRegisteredUser('alice'))?.passwordHash, 'scrypt$x');
      await assert.rejects(store.createUser({ name: 'ALICE', passwordHash: 'h', guest: false }), { code: 'name_taken' });
      assert.equal(await store.isMember('secret', alice.id), true);
      assert.deepEqual((await store.listRooms(bob.id)).map((r) => r.name), [dm.name, 'lobby']);
      assert.deepEqual((await store.history('lobby', { limit: 10 })).map((m) => [m.id, m.user.name, m.data]), [
        [1, 'Alice', 'one'],
        [2, '小明', 'two 🎉'],
      ]);
      // The cid is still known, and numbering continues where it stopped.
      const results = await store.appendMessages([message('lobby', alice, 'one', 'c1'), message('lobby', alice, 'three')]);
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
      await one.appendMessages([message('shared', u, 'from one')]);
      await two.appendMessages([message('shared', u, 'from two')]);
      await one.appendMessages([message('shared', u, 'from one again')]);
      assert.deepEqual((await two.history('shared', { limit: 10 })).map((m) => [m.id, m.data]), [
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
      const kept = await store.history('crash', { after: 0, limit: 1000 });
      assert.deepEqual(kept.map((m) => m.id), Array.from({ length: count }, (_, i) => i + 1));
      assert.equal(kept.at(-1)?.data, `m${count}`);
      assert.equal((await store.getRoom('crash'))?.lastId, count);
      const [retry] = await store.appendMessages([{ room: 'crash', user: kept[0]!.user, data: 'again', ts: 0, cid: 'c1' }]);
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

  it('refuses a file written by a newer schema', inTempDir(async (dir) => {
    await (await openSqliteStore(dir)).close();
    const db = new Database(join(dir, 'parley.db'));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(9999, 'future', Date.now());
    db.close();
    await assert.rejects(openSqliteStore(dir), SchemaTooNewError);
  }));
});

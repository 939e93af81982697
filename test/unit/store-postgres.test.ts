import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { MIGRATIONS, SchemaTooNewError, WrongEncodingError, migrate } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { NameTakenError, type NewMessage, type Store, type User } from '../../src/store/types.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { runStoreContract } from '../store-contract.js';
import { chats, messagesOf } from '../helpers/appended.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(() => server.close());

runStoreContract(
  'PostgresStore',
  async () => {
    const db = await server.createDatabase();
    const store = await PostgresStore.open(db.url);
    return {
      store,
      cleanup: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
  async () => {
    const db = await server.createDatabase();
    const stores = [await PostgresStore.open(db.url), await PostgresStore.open(db.url)] as [PostgresStore, PostgresStore];
    return {
      stores,
      cleanup: async () => {
        for (const store of stores) await store.close();
        await db.drop();
      },
    };
  },
);

const registered = (store: Store, name: string) => store.createUser({ name, passwordHash: 'scrypt$hash', guest: false });
let clock = 1_700_000_000_000;
const message = (room: string, user: User, data: string, cid?: string): NewMessage => ({
  room,
  user: { id: user.id, name: user.name },
  data,
  ts: clock++,
  ...(cid === undefined ? {} : { cid }),
});
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** One statement on a connection of its own. */
async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end();
  }
}

/** Runs `fn` with `count` stores on one fresh database, and closes them and drops it afterwards. */
const withStores = (count: number, fn: (stores: PostgresStore[], db: { url: string }) => Promise<void>) => async () => {
  const db = await server.createDatabase();
  const stores: PostgresStore[] = [];
  try {
    for (let i = 0; i < count; i++) stores.push(await PostgresStore.open(db.url));
    await fn(stores, db);
  } finally {
    for (const store of stores) await store.close();
    await db.drop();
  }
};

describe('PostgresStore with several nodes', () => {
  it('keeps rooms gapless when three nodes append to the same rooms at once, in any room order', withStores(3, async (stores) => {
    const [first] = stores;
    const u = await registered(first!, 'writer');
    const rooms = ['a', 'b', 'c'];
    for (const room of rooms) await first!.createRoom({ name: room, private: false, createdBy: null });
    // Each batch touches the rooms in its own order: locking them in name order keeps batches from deadlocking.
    const orders = [['a', 'b', 'c'], ['c', 'b', 'a'], ['b', 'c', 'a']];
    const runs = stores.flatMap((store, s) =>
      Array.from({ length: 15 }, (_, n) =>
        store.appendMessages(
          Array.from({ length: 30 }, (_, i) => message(orders[(s + n) % 3]![i % 3]!, u, `${s}.${n}.${i}`, `${s}-${n}-${i}`)),
        ),
      ),
    );
    const results = chats((await Promise.all(runs)).flat());
    assert.ok(results.every((r) => !r.duplicate));
    for (const room of rooms) {
      const acked = results.filter((r) => r.message.room === room).map((r) => r.message.id).sort((x, y) => x - y);
      assert.deepEqual(acked, range(1, 450), `room ${room}: ids 1..450, each once`);
      const stored = messagesOf(await stores[2]!.history(room, { after: 0, limit: 1000 }));
      assert.deepEqual(stored.map((m) => m.id), range(1, 450));
      const byId = new Map(results.filter((r) => r.message.room === room).map((r) => [r.message.id, r.message.data]));
      assert.ok(stored.every((m) => byId.get(m.id) === m.data), 'each id holds the message it was acked for');
      assert.equal((await stores[1]!.getRoom(room))?.lastId, 450);
    }
  }));

  it('stores a cid retried through two nodes at the same moment once, inside batches of new messages', withStores(2, async ([a, b]) => {
    const u = await registered(a!, 'writer');
    await a!.createRoom({ name: 'r', private: false, createdBy: null });
    const [original] = chats(await a!.appendMessages([message('r', u, 'hello', 'retried')]));
    for (let round = 0; round < 10; round++) {
      // Both nodes get the retry in the middle of a batch of their own new messages, and a new
      // cid that both of them get at once.
      const batch = (node: string) => [
        message('r', u, `${node} ${round} before`),
        message('r', u, 'hello', 'retried'),
        message('r', u, `race ${round}`, `race-${round}`),
        message('r', u, `${node} ${round} after`, `${node}-${round}`),
      ];
      const [fromA, fromB] = (await Promise.all([a!.appendMessages(batch('a')), b!.appendMessages(batch('b'))])).map(chats);
      for (const results of [fromA!, fromB!]) assert.deepEqual(results[1], { message: original!.message, duplicate: true });
      assert.equal([fromA![2]!, fromB![2]!].filter((r) => !r.duplicate).length, 1, 'the racing cid is stored once');
      assert.equal(fromA![2]!.message.id, fromB![2]!.message.id);
    }
    const stored = messagesOf(await b!.history('r', { after: 0, limit: 1000 }));
    // 1 + 10 rounds × (2 + 1 + 2) new messages.
    assert.deepEqual(stored.map((m) => m.id), range(1, 51));
    assert.equal(stored.filter((m) => m.cid === 'retried').length, 1);
    assert.equal((await a!.getRoom('r'))?.lastId, 51);
  }));

  it('refuses a database migrated by a newer Parley, and one that is not UTF-8', async () => {
    const db = await server.createDatabase();
    try {
      await (await PostgresStore.open(db.url)).close();
      await sql(db.url, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)");
      await assert.rejects(PostgresStore.open(db.url), SchemaTooNewError);
    } finally {
      await db.drop();
    }
    const latin = server.url('parley_latin1');
    await sql(server.url('postgres'), "CREATE DATABASE parley_latin1 ENCODING 'LATIN1' TEMPLATE template0");
    await assert.rejects(PostgresStore.open(latin), WrongEncodingError);
    await sql(latin, 'SELECT 1 FROM pg_tables WHERE tablename = $1', ['rooms']).then((r) => assert.equal(r.rowCount, 0, 'no table made'));
  });

  it('keeps accounts made before look-alike names were refused, and refuses new look-alikes of them', async () => {
    const db = await server.createDatabase();
    try {
      // As schema 1 left it: registered names that look alike (Cyrillic а, full-width), and a guest.
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await migrate(client, MIGRATIONS.filter((m) => m.version <= 1));
        await client.query(
          `INSERT INTO users (id, name, name_key, password_hash, guest, created_at) OVERRIDING SYSTEM VALUE VALUES
           (1, 'alice', 'alice', 'scrypt$one', false, 1), (2, '\u0430lice', '\u0430lice', 'scrypt$two', false, 1),
           (3, 'ａｌｉｃｅ', 'ａｌｉｃｅ', 'scrypt$three', false, 1), (4, 'alice', 'alice', NULL, true, 1), (5, 'Bob', 'bob', 'scrypt$five', false, 1)`,
        );
        await client.query("SELECT setval(pg_get_serial_sequence('users', 'id'), 5)");
      } finally {
        await client.end();
      }
      const store = await PostgresStore.open(db.url);
      try {
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
    } finally {
      await db.drop();
    }
  });

  it('migrates a new database once when three nodes start at the same moment', async () => {
    const db = await server.createDatabase();
    const stores = await Promise.all([PostgresStore.open(db.url), PostgresStore.open(db.url), PostgresStore.open(db.url)]);
    try {
      const { rows } = await sql<{ version: number }>(db.url, 'SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
      const u = await registered(stores[0], 'ann');
      for (const store of stores) assert.deepEqual(await store.getUser(u.id), u);
    } finally {
      for (const store of stores) await store.close();
      await db.drop();
    }
  });
});

describe('PostgresStore close', () => {
  it('waits for the calls in flight, then refuses new ones', withStores(2, async ([a, b]) => {
    const u = await registered(a!, 'writer');
    await a!.createRoom({ name: 'r', private: false, createdBy: null });
    const appending = a!.appendMessages(Array.from({ length: 500 }, (_, i) => message('r', u, `m${i}`, `c${i}`)));
    await a!.close();
    assert.equal((await appending).length, 500);
    assert.equal((await b!.getRoom('r'))?.lastId, 500);
    await assert.rejects(a!.getRoom('r'), /closed/);
    assert.equal(await a!.ping(), false);
  }));
});

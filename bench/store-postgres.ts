/**
 * Appends per second of PostgresStore, next to SqliteStore on the same machine, for batches of 1,
 * 100 and 2,000 messages over 1 and 500 rooms. One batch at a time, as the hub's AppendBatcher
 * sends them; every message has a cid, as the SDK's do. PostgreSQL is a throw-away server started
 * here (test/helpers/postgres.ts) with fsync on, a fresh database per case; SQLite a fresh file.
 *
 *   node --import tsx bench/store-postgres.ts [--seconds=N] [--only=TEXT]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewMessage, Store } from '../src/store/types.js';
import { startPostgres } from '../test/helpers/postgres.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const seconds = Number(arg('seconds') ?? 3);
const only = arg('only');

const CASES = [1, 500].flatMap((rooms) => [1, 100, 2000].map((batch) => ({ name: `${rooms} room${rooms > 1 ? 's' : ''}, batches of ${batch}`, rooms, batch })));
const DATA = 'x'.repeat(100);

/** Appends batches for `seconds` (at least 3 batches) and returns messages per second. */
async function measure(store: Store, rooms: number, batchSize: number): Promise<number> {
  const user = await store.createUser({ name: 'writer', passwordHash: null, guest: true });
  for (let r = 0; r < rooms; r++) await store.createRoom({ name: `room-${r}`, private: false, createdBy: null });
  let n = 0;
  const batch = (): NewMessage[] =>
    Array.from({ length: batchSize }, () => {
      n++;
      return { room: `room-${n % rooms}`, user: { id: user.id, name: user.name }, data: DATA, cid: `c-${n}`, ts: Date.now() };
    });
  await store.appendMessages(batch()); // warm-up: statements prepared, connections open
  const start = performance.now();
  let stored = 0;
  let batches = 0;
  while (batches < 3 || performance.now() - start < seconds * 1000) {
    stored += (await store.appendMessages(batch())).length;
    batches++;
  }
  return stored / ((performance.now() - start) / 1000);
}

const pg = await startPostgres({ fsync: true });
try {
  console.log('| case | SQLite appends/s | PostgreSQL appends/s | PostgreSQL / SQLite |');
  console.log('|---|---:|---:|---:|');
  for (const c of CASES) {
    if (only && !c.name.includes(only)) continue;
    const dir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
    const sqlite = await SqliteStore.open(join(dir, 'parley.db'));
    const onSqlite = await measure(sqlite, c.rooms, c.batch);
    await sqlite.close();
    await rm(dir, { recursive: true, force: true });

    const db = await pg.createDatabase();
    const postgres = await PostgresStore.open(db.url);
    const onPostgres = await measure(postgres, c.rooms, c.batch);
    await postgres.close();
    await db.drop();
    const fmt = (x: number) => Math.round(x).toLocaleString('en');
    console.log(`| ${c.name} | ${fmt(onSqlite)} | ${fmt(onPostgres)} | ${(onPostgres / onSqlite).toFixed(2)} |`);
  }
} finally {
  await pg.close();
}

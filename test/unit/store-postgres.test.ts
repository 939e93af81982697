import { after, before } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { runStoreContract } from '../store-contract.js';

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

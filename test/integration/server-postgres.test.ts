/**
 * `parley serve` with DATABASE_URL alone: a single node whose store is PostgreSQL. It migrates the
 * new database on start, says in its log that it uses PostgreSQL, and everything it stored is still
 * there after a restart, even with a new, empty data dir: the data dir holds only the secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fetchMessages } from '../../src/client/index.js';
import { startParley } from '../../src/server/app.js';
import { loadConfig } from '../../src/server/config.js';
import { ChatClient, signInGuest } from '../helpers/chat-client.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { freePort, spawnServer, tempDataDir } from '../helpers/server.js';

let postgres: PostgresServer;
before(async () => {
  postgres = await startPostgres();
});
after(() => postgres.close());

/** Shared by both runs, as several nodes would share it: tokens of the first run stay valid. */
const SESSION_SECRET = 'a-session-secret-for-the-postgres-test-0123456789';

describe('a node on PostgreSQL (DATABASE_URL alone)', () => {
  it('logs that it uses PostgreSQL and keeps its rooms and history across a restart with a new data dir', async () => {
    const db = await postgres.createDatabase();
    const { logger, records } = captureLogs();
    const settings = { PORT: '0', HOST: '127.0.0.1', RATE_LIMIT: '0', DATABASE_URL: db.url, SESSION_SECRET };
    const first = await startParley(loadConfig({}, { ...settings, DATA_DIR: tempDataDir() }), { logger });
    const base = `http://127.0.0.1:${first.port}`;
    let token: string;
    try {
      const started = records().find((r) => r.msg === 'parley listening');
      assert.equal(started?.store, 'postgres');
      ({ token } = await signInGuest(base, '小明'));
      const client = await ChatClient.connect(`ws://127.0.0.1:${first.port}`, token);
      client.send({ type: 'join', room: 'lobby' });
      await client.next('list');
      for (const [i, text] of ['你好', 'hello 🎉', 'third'].entries()) {
        client.send({ type: 'chat', room: 'lobby', data: text, cid: `c${i}` });
        const ack = await client.next('ack', (f) => f.cid === `c${i}`);
        assert.equal(ack.id, i + 1);
      }
      client.close();
    } finally {
      await first.close();
    }

    // `parley serve` itself, as npm start runs it, on another port with an empty data dir.
    const port = String(await freePort());
    const second = await spawnServer({ ...settings, PORT: port, DATA_DIR: tempDataDir(), LOG_LEVEL: 'warn' });
    try {
      const history = await fetchMessages(second.url, 'lobby', { token: token!, limit: 10 });
      assert.deepEqual(history.data.map((m) => [m.id, m.user.name, m.data]), [
        [1, '小明', '你好'],
        [2, '小明', 'hello 🎉'],
        [3, '小明', 'third'],
      ]);
      const client = await ChatClient.connect(second.wsUrl, token!);
      client.send({ type: 'join', room: 'lobby', after: 1 });
      assert.deepEqual([(await client.next('chat')).id, (await client.next('chat')).id], [2, 3]);
      client.send({ type: 'chat', room: 'lobby', data: 'after the restart', cid: 'c-after' });
      assert.equal((await client.next('ack', (f) => f.cid === 'c-after')).id, 4);
      client.close();
      assert.equal((await fetch(`${second.url}/readyz`)).status, 200);
    } finally {
      assert.equal(await second.stop(), 0);
      await db.drop();
    }
  });

  it('is not ready while PostgreSQL is stopped, and ready again once it is back, without a restart', async () => {
    const db = await postgres.createDatabase();
    const config = loadConfig({}, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), LOG_LEVEL: 'silent', DATABASE_URL: db.url });
    const server = await startParley(config);
    const readyz = async () => (await fetch(`http://127.0.0.1:${server.port}/readyz`)).status;
    try {
      assert.equal(await readyz(), 200);
      await postgres.stop();
      try {
        assert.equal(await readyz(), 503);
        assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200, 'the process itself is fine');
      } finally {
        await postgres.start();
      }
      assert.equal(await readyz(), 200);
    } finally {
      await server.close();
      await db.drop();
    }
  });

  it('refuses to start, with a clear message, when PostgreSQL cannot be reached', async () => {
    const config = loadConfig({}, {
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: tempDataDir(),
      LOG_LEVEL: 'silent',
      DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`,
    });
    await assert.rejects(startParley(config), /cannot reach PostgreSQL/);
  });
});

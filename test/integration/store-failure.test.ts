/**
 * When the store thread dies, the server must say so and refuse to pretend. It must not ack or
 * broadcast a message it cannot store, and /readyz must fail, so that a balancer stops sending it
 * users. It logs the death at fatal level and calls onFatal, on which `parley serve` exits 1. It
 * still stops cleanly, and the process itself does not crash. A message sent meanwhile is not lost:
 * its error carries no cid, so the SDK keeps it and sends it again once the server is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/server/config.js';
import { startParley } from '../../src/server/app.js';
import { ParleyClient, fetchMessages, signIn } from '../../src/client/index.js';
import { ChatClient, signInGuest } from '../helpers/chat-client.js';
import { freePort, tempDataDir } from '../helpers/server.js';
import { captureLogs } from '../helpers/log-capture.js';
import { exitStoreThread } from '../helpers/store-thread.js';

test('a dead store thread: fatal log, /readyz 503, no ack and no broadcast, then a clean stop', async () => {
  const { logger, records } = captureLogs();
  const config = loadConfig({}, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: tempDataDir(), RATE_LIMIT: '0' });
  let fatal: Error | undefined;
  let onFatalResolve!: () => void;
  const fatalCalled = new Promise<void>((resolve) => (onFatalResolve = resolve));
  const server = await startParley(config, {
    logger,
    onFatal: (err) => {
      fatal = err;
      onFatalResolve();
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const wsBase = `ws://127.0.0.1:${server.port}`;
  let writer: ChatClient | undefined;
  let reader: ChatClient | undefined;
  try {
    writer = await ChatClient.connect(wsBase, (await signInGuest(base, 'writer')).token);
    reader = await ChatClient.connect(wsBase, (await signInGuest(base, 'reader')).token);
    for (const c of [writer, reader]) {
      c.send({ type: 'join', room: 'lobby' });
      await c.next('list');
    }
    writer.send({ type: 'chat', room: 'lobby', data: 'before', cid: 'c1' });
    await writer.next('ack', (f) => f.cid === 'c1');
    await reader.next('chat', (f) => f.data === 'before');
    assert.equal((await fetch(`${base}/readyz`)).status, 200);

    await exitStoreThread(7);
    await fatalCalled;
    assert.match(fatal!.message, /store thread exited \(code 7\)/);
    assert.ok(
      records().some((l) => l.level === 60 && /store thread died/.test(l.msg)),
      'the death is logged at fatal level',
    );
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json()).status, 'unavailable');

    // A message that cannot be stored gets an error, never an ack, and reaches nobody.
    writer.send({ type: 'chat', room: 'lobby', data: 'after', cid: 'c2' });
    const error = await writer.next('error');
    assert.equal(error.code, 'internal');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(writer.all('ack').some((f) => f.cid === 'c2'), false, 'no ack for a message that was not stored');
    assert.equal(reader.all('chat').some((f) => f.data === 'after'), false, 'not broadcast');
  } finally {
    await server.close();
  }
  // The stop closes the connections as a shutdown does.
  assert.equal(await writer!.closed, 1001);
  assert.equal(await reader!.closed, 1001);
});

test('a message sent while the store thread is dead is stored once, after the restart, by the SDK', async () => {
  const dataDir = tempDataDir();
  const port = String(await freePort());
  const settings = { PORT: port, HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' } as const;
  let onFatalResolve!: () => void;
  const fatalCalled = new Promise<void>((resolve) => (onFatalResolve = resolve));
  let server = await startParley(loadConfig({}, settings), { onFatal: () => onFatalResolve() });
  const base = `http://127.0.0.1:${port}`;
  const { token } = await signIn.guest(base, 'ann');
  const client = new ParleyClient({ url: base, token, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
  const delivered: string[] = [];
  client.on('chat', (m) => delivered.push(`${m.id}:${m.data}`));
  try {
    client.join('lobby', { after: 0 });
    client.connect();
    assert.equal((await client.send('lobby', 'one')).id, 1);

    await exitStoreThread(7);
    await fatalCalled;
    let acked = false;
    const sent = client.send('lobby', 'two').then((ack) => {
      acked = true;
      return ack;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(acked, false, 'not acked while it cannot be stored');

    // What a supervisor does after `parley serve` exits: start it again on the same data.
    await server.close();
    server = await startParley(loadConfig({}, settings));
    const ack = await sent;
    assert.equal(ack.id, 2);
    const deadline = Date.now() + 10_000;
    while (delivered.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(delivered, ['1:one', '2:two'], 'each message delivered once, in order');
    const stored = await fetchMessages(base, 'lobby', { limit: 10, token });
    assert.deepEqual(
      stored.data.map((m) => m.data),
      ['one', 'two'],
      'stored once',
    );
  } finally {
    client.close();
    await server.close();
  }
});

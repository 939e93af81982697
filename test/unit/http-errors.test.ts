import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { pino } from 'pino';
import { appErrorListener, errorMiddleware, toHttpError, HttpError } from '../../src/http/errors.js';
import { staticFiles } from '../../src/http/static-files.js';
import { healthRoutes } from '../../src/http/health-routes.js';
import { jsonBody } from '../../src/http/json-body.js';
import type { HttpDeps } from '../../src/http/deps.js';
import { createMetrics } from '../../src/metrics.js';
import { ChatError } from '../../src/realtime/errors.js';
import { NameTakenError, NoSuchRoomError, RoomExistsError } from '../../src/store/types.js';
import { captureLogs } from '../helpers/log-capture.js';

test('ChatError codes map to HTTP statuses', () => {
  const cases: [ConstructorParameters<typeof ChatError>[0], number][] = [
    ['bad_request', 400],
    ['forbidden', 403],
    ['not_found', 404],
    ['too_large', 413],
    ['rate_limited', 429],
  ];
  for (const [code, status] of cases) {
    const e = toHttpError(new ChatError(code, `because ${code}`));
    assert.equal(e?.status, status, code);
    assert.equal(e?.code, code);
    assert.equal(e?.message, `because ${code}`);
  }
  assert.equal(toHttpError(new ChatError('internal', 'db exploded')), undefined, 'internal stays internal');
});

test('store errors map to 409 and 404', () => {
  assert.deepEqual(pick(toHttpError(new NameTakenError('Alice'))), [409, 'name_taken']);
  assert.deepEqual(pick(toHttpError(new RoomExistsError('lobby'))), [409, 'room_exists']);
  assert.deepEqual(pick(toHttpError(new NoSuchRoomError('x'))), [404, 'not_found']);
  assert.equal(toHttpError(new Error('boom')), undefined);
  assert.equal(toHttpError('a string'), undefined);
  assert.deepEqual(pick(toHttpError(Object.assign(new Error('Malicious Path'), { status: 403, expose: true }))), [403, 'forbidden']);
  assert.deepEqual(pick(toHttpError(Object.assign(new Error('teapot'), { status: 418, expose: true }))), [418, 'bad_request']);
  assert.equal(toHttpError(Object.assign(new Error('upstream down'), { status: 502 })), undefined, '5xx statuses are internal');
});

function pick(e: HttpError | undefined): [number, string] | undefined {
  return e && [e.status, e.code];
}

async function serve(app: Koa, t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  t.after(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('an unexpected error is a 500 that leaks nothing, and is logged', async (t) => {
  const { logger, lines } = captureLogs();
  const app = new Koa();
  app.use(errorMiddleware(logger));
  app.use(() => {
    throw new Error('SQLITE_CORRUPT at /var/lib/parley/parley.db');
  });
  const base = await serve(app, t);
  const res = await fetch(base + '/anything');
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), { error: { code: 'internal', message: 'internal error' } });
  assert.doesNotMatch(text, /SQLITE|parley\.db/);
  assert.ok(lines.some((l) => l.includes('SQLITE_CORRUPT')), 'the cause is in the log');
});

test('HttpError headers reach the response', async (t) => {
  const app = new Koa();
  app.use(errorMiddleware(pino({ level: 'silent' })));
  app.use(() => {
    throw new HttpError(429, 'rate_limited', 'slow down', { 'Retry-After': '7' });
  });
  const res = await fetch((await serve(app, t)) + '/');
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '7');
  assert.deepEqual(await res.json(), { error: { code: 'rate_limited', message: 'slow down' } });
});

test('body parser failures become 400 and 413 without echoing the input', async (t) => {
  const app = new Koa();
  app.use(errorMiddleware(pino({ level: 'silent' })));
  app.use(jsonBody('1kb'));
  app.use((ctx) => {
    ctx.body = { ok: true };
  });
  const base = await serve(app, t);
  const post = (body: string) => fetch(base, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const bad = await post('{"secret": "hunter2"');
  assert.equal(bad.status, 400);
  const text = await bad.text();
  assert.equal(JSON.parse(text).error.code, 'bad_request');
  assert.doesNotMatch(text, /hunter2/);
  const big = await post(JSON.stringify({ pad: 'x'.repeat(4096) }));
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error.code, 'too_large');
  for (const encoding of ['gzip', 'br', 'deflate']) {
    const res = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: 'not compressed' });
    assert.equal(res.status, 400, encoding);
    assert.equal((await res.json()).error.code, 'bad_request');
  }
  const unknown = await fetch(base, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd-x' }, body: '{}' });
  assert.equal(unknown.status, 415);
});

test('/readyz answers 503 when not ready or when the check throws', async (t) => {
  let ready: () => Promise<boolean> = async () => false;
  const deps = { ready: () => ready(), metrics: createMetrics(), logger: pino({ level: 'silent' }), settings: { nodeId: 'n1' } } as unknown as HttpDeps;
  const app = new Koa();
  app.use(healthRoutes(deps).routes());
  const base = await serve(app, t);
  assert.equal((await fetch(base + '/readyz')).status, 503);
  ready = async () => {
    throw new Error('store gone');
  };
  const res = await fetch(base + '/readyz');
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { status: 'unavailable', node: 'n1' });
  ready = async () => true;
  assert.equal((await fetch(base + '/readyz')).status, 200);
  assert.equal((await fetch(base + '/healthz')).status, 200);
});

test('a client that leaves mid-download is logged at debug, not warned about; other late errors are warned about', async () => {
  const { logger, records } = captureLogs('debug');
  const webRoot = mkdtempSync(join(tmpdir(), 'parley-web-'));
  // Larger than the loopback socket buffers take at once, so the download is still running when the client leaves.
  writeFileSync(join(webRoot, 'big.bin'), Buffer.alloc(64 * 2 ** 20));
  const app = new Koa();
  app.on('error', appErrorListener(logger));
  for (const middleware of staticFiles(webRoot)) app.use(middleware);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    socket.write('GET /big.bin HTTP/1.1\r\nHost: parley\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
    const deadline = Date.now() + 5000;
    while (!records().some((l) => l.msg === 'client went away before the response ended') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(records().some((l) => l.level === 20 && l.code === 'ERR_STREAM_PREMATURE_CLOSE'), JSON.stringify(records()));
    assert.equal(records().filter((l) => l.level >= 40).length, 0, 'nothing at warn or above');

    app.emit('error', new Error('disk gone'));
    assert.ok(records().some((l) => l.level === 40 && l.msg === 'http error outside a handler'));
  } finally {
    server.close();
    rmSync(webRoot, { recursive: true, force: true });
  }
});

/** HTTP at the edges of the protocol: other Upgrade headers, malformed requests, the Origin's scheme. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ChatClient, signInGuest, upgradeStatus } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Sends raw bytes and returns the whole response the server writes before it closes. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('HTTP edges', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '2' });
  });
  after(() => server.close());

  it('answers a request with Upgrade: h2c as plain HTTP, body included', async () => {
    const health = await raw(server.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
    assert.match(health, /^HTTP\/1\.1 200 /);
    assert.match(health, /"status":"ok"/);
    const body = JSON.stringify({ name: 'h2' });
    const guest = await raw(
      server.port,
      `POST /api/guest HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    assert.match(guest, /^HTTP\/1\.1 200 /);
    assert.match(guest, /"name":"h2"/);
  });

  it('answers malformed HTTP with a status and a JSON error, not a hang-up', async () => {
    const big = await raw(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    const garbage = await raw(server.port, 'GARBAGE\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /"error":\{"code":"bad_request"/);
  });

  it('refuses a WebSocket handshake that is not a GET with 405 and a JSON error', async () => {
    const res = await raw(
      server.port,
      'POST /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.match(res, /^HTTP\/1\.1 405 /);
    assert.match(res, /application\/json/);
  });

  it('treats an Origin with another scheme as another origin', async () => {
    const alice = await signInGuest(server.url, 'alice');
    const headers = { authorization: `Bearer ${alice.token}` };
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: server.url.replace('http:', 'https:') }), 403);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: server.url }), 101);
  });

  it('names the cid and room of a frame refused for its rate or its shape', async () => {
    const bob = await signInGuest(server.url, 'bob');
    const c = await ChatClient.connect(server.wsUrl, bob.token);
    c.send({ type: 'chat', room: 'lobby', data: 5, cid: 'shape' });
    assert.deepEqual(await c.next('error'), { type: 'error', code: 'bad_request', message: 'data: Invalid input: expected string, received number', cid: 'shape', room: 'lobby' });
    for (let i = 0; i < 6; i++) c.send({ type: 'chat', room: 'lobby', data: 'x', cid: `r${i}` });
    const limited = await c.next('error', (f) => f.code === 'rate_limited');
    assert.equal(limited.room, 'lobby');
    assert.match(String(limited.cid), /^r\d$/);
    await c.close();
  });
});

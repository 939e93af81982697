import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { ChatClient, signInGuest } from '../helpers/chat-client.js';
import { freePort, spawnServer, startTestServer, tempDataDir } from '../helpers/server.js';

/**
 * Opens `count` TCP connections, then sends a chat upgrade on each at once, so they reach the server
 * together as in a reconnect storm. Resolves the sockets that were switched (101) and the statuses of
 * the others.
 */
async function upgradeBurst(port: number, token: string, count: number): Promise<{ opened: Socket[]; refused: number[] }> {
  const sockets = await Promise.all(
    Array.from({ length: count }, () => new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    })),
  );
  const request =
    `GET /ws/chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${token}\r\n\r\n`;
  const statuses = sockets.map(
    (socket) =>
      new Promise<number>((resolve, reject) => {
        let head = '';
        socket.on('data', (d: Buffer) => {
          head += d.toString('latin1');
          if (head.includes('\r\n')) resolve(Number(head.split(' ')[1]));
        });
        socket.once('close', () => reject(new Error(`closed without a status line: ${JSON.stringify(head)}`)));
      }),
  );
  for (const socket of sockets) socket.write(request);
  const answered = await Promise.all(statuses);
  return {
    opened: sockets.filter((_, i) => answered[i] === 101),
    refused: answered.filter((status) => status !== 101),
  };
}

describe('limits and liveness', () => {
  it('answers rate_limited past the rate, and closes with 1008 a client that keeps going', async () => {
    const server = await startTestServer({ RATE_LIMIT: '5' });
    try {
      const u = await signInGuest(server.url, 'spammer');
      const c = await ChatClient.connect(server.wsUrl, u.token);
      for (let i = 0; i < 12; i++) c.send({ type: 'chat', room: 'lobby', data: `x${i}`, cid: `x${i}` });
      assert.equal((await c.next('error')).code, 'rate_limited');
      for (let i = 0; i < 30; i++) c.send({ type: 'typing', room: 'lobby' });
      assert.equal(await c.closed, 1008);
    } finally {
      await server.close();
    }
  });

  it('closes with 1013 a reader that stops reading, and the room goes on for the others', { timeout: 120_000 }, async () => {
    const server = await startTestServer({ RATE_LIMIT: '0', SLOW_READER_BYTES: '65536' });
    try {
      const slowUser = await signInGuest(server.url, 'slow');
      const fastUser = await signInGuest(server.url, 'fast');
      const slow = await ChatClient.connect(server.wsUrl, slowUser.token);
      const fast = await ChatClient.connect(server.wsUrl, fastUser.token);
      for (const c of [slow, fast]) {
        c.send({ type: 'join', room: 'lobby' });
        await c.next('list');
      }
      // Stop reading from the slow client's socket; its kernel buffers fill, then the server's.
      const raw = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
      raw.pause();
      const text = 'y'.repeat(1000);
      let i = 0;
      const deadline = Date.now() + 15_000;
      while (slow.closeCode === undefined && Date.now() < deadline) {
        for (let k = 0; k < 50; k++) fast.send({ type: 'chat', room: 'lobby', data: text, cid: `f${++i}` });
        await new Promise((r) => setTimeout(r, 5));
        if (i % 200 !== 0) continue;
        // Resume reading only once the server has given up on the slow reader.
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        if (/parley_slow_readers_closed_total [1-9]/.test(metrics)) break;
      }
      raw.resume();
      assert.equal(await slow.closed, 1013);
      // The fast reader still gets new messages.
      fast.send({ type: 'chat', room: 'lobby', data: 'after', cid: 'after' });
      await fast.next('chat', (f) => f.data === 'after', 60_000);
      await fast.close();
    } finally {
      await server.close();
    }
  });

  it('opens no more than MAX_CONNECTIONS of a burst of simultaneous upgrades, and frees the places they held', async () => {
    // A server of its own process: its upgrades arrive together, as a reconnect storm's do.
    const server = await spawnServer({ DATA_DIR: tempDataDir(), PORT: String(await freePort()), MAX_CONNECTIONS: '20' });
    try {
      const u = await signInGuest(server.url, 'storm');
      const first = await upgradeBurst(server.port, u.token, 100);
      assert.equal(first.opened.length, 20);
      assert.deepEqual(new Set(first.refused), new Set([503]));
      for (const socket of first.opened) socket.destroy();
      // The server sees the closes a moment after the clients do.
      for (let i = 0; !/^parley_connections 0$/m.test(await (await fetch(`${server.url}/metrics`)).text()); i++) {
        assert.ok(i < 200, 'the server counts the closed connections as gone');
        await new Promise((r) => setTimeout(r, 25));
      }
      // Neither the refused upgrades nor the closed connections still hold a place.
      const second = await upgradeBurst(server.port, u.token, 21);
      assert.equal(second.opened.length, 20);
      assert.deepEqual(second.refused, [503]);
      for (const socket of second.opened) socket.destroy();
    } finally {
      await server.stop();
    }
  });

  it('keeps echo sockets, which need no session, to a tenth of MAX_CONNECTIONS, so they cannot lock the chat out', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '20' });
    const echoes: WebSocket[] = [];
    try {
      const echoStatus = () =>
        new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(`${server.wsUrl}/ws/echo`);
          ws.once('open', () => {
            echoes.push(ws);
            resolve(101);
          });
          ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          ws.once('error', reject);
        });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push(await echoStatus());
      assert.deepEqual(statuses, [101, 101, 503, 503, 503], 'two echo sockets, a tenth of 20');
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^parley_echo_connections 2$/m);
      const u = await signInGuest(server.url, 'chatter');
      const chats = await upgradeBurst(server.port, u.token, 18);
      assert.equal(chats.opened.length, 18, 'the chat still has the rest of the places');
      for (const socket of chats.opened) socket.destroy();
    } finally {
      for (const ws of echoes) ws.terminate();
      await server.close();
    }
  });

  it('cuts off a peer that does not answer pings', async () => {
    const server = await startTestServer({ HEARTBEAT_MS: '1000' });
    try {
      const u = await signInGuest(server.url, 'sleepy');
      const ws = new WebSocket(`${server.wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${u.token}` }, autoPong: false });
      const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
      await new Promise((r) => ws.once('open', r));
      const code = await closed;
      assert.equal(code, 1006, 'terminated without a close frame');
    } finally {
      await server.close();
    }
  });

  it('logs the client IP from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const untrusted = await startTestServer();
    const trusted = await startTestServer({ TRUST_PROXY: '127.0.0.1' });
    try {
      for (const [server, expected] of [[untrusted, '127.0.0.1'], [trusted, '203.0.113.9']] as const) {
        const u = await signInGuest(server.url, 'ip');
        const c = await ChatClient.connect(server.wsUrl, u.token, { headers: { authorization: `Bearer ${u.token}`, 'x-forwarded-for': '203.0.113.9' } });
        assert.equal((c.frames[0]!.conn as { ip: string }).ip, expected);
        await c.close();
      }
    } finally {
      await untrusted.close();
      await trusted.close();
    }
  });
});

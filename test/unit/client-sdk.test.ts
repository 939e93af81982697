/**
 * The SDK's reconnect, replay, dedupe and retry logic against a tiny chat server scripted here
 * with `ws` (real sockets): it speaks just enough of the protocol and can misbehave on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket as NodeWebSocket, WebSocketServer, type WebSocket } from 'ws';
import { ParleyClient, ParleyError, type ChatMessage, type WebSocketConstructor } from '../../src/client/index.js';

interface Stored {
  room: string;
  id: number;
  user: { id: number; name: string };
  data: string;
  ts: number;
  cid?: string;
}

class ScriptedServer {
  http: Server;
  wss = new WebSocketServer({ noServer: true });
  port = 0;
  messages = new Map<string, Stored[]>();
  byCid = new Map<string, Stored>();
  subs = new Map<WebSocket, Set<string>>();
  /** Every frame received, in order. */
  received: Array<Record<string, unknown>> = [];
  upgrades = 0;
  upgradeUrls: string[] = [];
  refuseWith: number | undefined;
  /** Called on each chat frame; returning 'drop-conn' cuts the connection after storing, before the ack. */
  onChat: (frame: Record<string, unknown>, ws: WebSocket) => 'ok' | 'drop-conn' | 'too-large' = () => 'ok';
  /** Skips sending this message id live to subscribers (to make a hole). */
  skipLive = new Set<number>();

  constructor() {
    this.http = createServer((_req, res) => {
      res.statusCode = 401;
      res.end('{"error":{"code":"unauthorized","message":"no session"}}');
    });
    this.http.on('upgrade', (req, socket: Socket, head) => {
      this.upgrades += 1;
      this.upgradeUrls.push(req.url ?? '');
      if (this.refuseWith !== undefined) {
        socket.end(`HTTP/1.1 ${this.refuseWith} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws));
    });
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(port, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening and cuts every connection. */
  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** Stops reading every connection: to the client the network is silently dead (no FIN, no pong). */
  freezeAll(): void {
    for (const ws of this.wss.clients) (ws as unknown as { _socket: Socket })._socket.pause();
  }

  cutAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
  }

  store(room: string, data: string, cid?: string): Stored {
    const list = this.messages.get(room) ?? [];
    this.messages.set(room, list);
    const msg: Stored = { room, id: list.length + 1, user: { id: 1, name: 'ann' }, data, ts: Date.now(), ...(cid ? { cid } : {}) };
    list.push(msg);
    if (cid) this.byCid.set(cid, msg);
    return msg;
  }

  broadcast(msg: Stored): void {
    if (this.skipLive.has(msg.id)) return;
    for (const [ws, rooms] of this.subs) if (rooms.has(msg.room)) ws.send(JSON.stringify({ type: 'chat', ...msg }));
  }

  #onConnection(ws: WebSocket): void {
    this.subs.set(ws, new Set());
    ws.on('close', () => this.subs.delete(ws));
    ws.send(JSON.stringify({ type: 'welcome', user: { id: 1, name: 'ann', guest: true }, conn: { id: 'c', ip: '127.0.0.1' }, rooms: ['lobby'] }));
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as Record<string, unknown>;
      this.received.push(frame);
      const room = frame.room as string;
      if (frame.type === 'join') {
        this.subs.get(ws)?.add(room);
        const after = frame.after as number | undefined;
        if (after !== undefined) {
          for (const m of this.messages.get(room) ?? []) if (m.id > after) ws.send(JSON.stringify({ type: 'chat', ...m }));
        }
        ws.send(JSON.stringify({ type: 'list', room, data: [{ id: 1, name: 'ann' }] }));
      } else if (frame.type === 'chat') {
        const cid = frame.cid as string;
        const verdict = this.onChat(frame, ws);
        if (verdict === 'too-large') {
          ws.send(JSON.stringify({ type: 'error', code: 'too_large', message: 'too long', cid, room }));
          return;
        }
        let msg = this.byCid.get(cid);
        if (!msg) {
          msg = this.store(room, frame.data as string, cid);
          this.broadcast(msg);
        }
        if (verdict === 'drop-conn') {
          ws.terminate();
          return;
        }
        ws.send(JSON.stringify({ type: 'ack', cid, room, id: msg.id, ts: msg.ts }));
      } else if (frame.type === 'history') {
        const data = (this.messages.get(room) ?? []).map((m) => ({ type: 'chat', ...m }));
        ws.send(JSON.stringify({ type: 'history', room, data, more: false }));
      }
    });
  }
}

function until<T>(client: ParleyClient, predicate: () => T | undefined, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
    const check = () => {
      const v = predicate();
      if (v !== undefined && v !== false) {
        clearTimeout(timer);
        offs.forEach((off) => off());
        resolve(v);
      }
    };
    const offs = [client.on('chat', check), client.on('state', check), client.on('welcome', check), client.on('list', check)];
    check();
  });
}

const fast = { minDelayMs: 10, maxDelayMs: 50 };

test('a cut after storing but before the ack: the send is retried with its cid, stored once, delivered once', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  t.after(() => server.stop());
  let cutOnce = true;
  server.onChat = (frame) => (frame.data === 'three' && cutOnce ? ((cutOnce = false), 'drop-conn') : 'ok');

  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: fast });
  t.after(() => client.close());
  const seen: ChatMessage[] = [];
  client.on('chat', (m) => seen.push(m));
  const states: string[] = [];
  client.on('state', (s) => states.push(s.state));
  client.join('lobby');
  client.connect();

  const texts = ['one', 'two', 'three', 'four', 'five'];
  const acks = await Promise.all(texts.map((text) => client.send('lobby', text)));
  assert.deepEqual(acks.map((a) => a.id), [1, 2, 3, 4, 5]);
  await until(client, () => seen.length >= 5 || undefined, 'five messages');
  assert.deepEqual(seen.map((m) => m.id), [1, 2, 3, 4, 5]);
  assert.deepEqual(seen.map((m) => m.data), texts);
  assert.equal(server.messages.get('lobby')?.length, 5, 'the retry did not store a duplicate');
  const retried = server.received.filter((f) => f.type === 'chat' && f.data === 'three');
  assert.equal(retried.length, 2);
  assert.equal(retried[0]!.cid, retried[1]!.cid, 'the retry carries the same cid');
  assert.ok(states.includes('reconnecting'));
  const rejoin = server.received.filter((f) => f.type === 'join');
  assert.equal(rejoin[0]!.after, undefined, 'the first join has no after');
  assert.equal(typeof rejoin[1]!.after, 'number', 'the rejoin carries after');
});

test('messages sent while the server is down are queued, rejoin replays what was missed', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  const port = server.port;
  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: fast });
  t.after(() => client.close());
  const seen: number[] = [];
  client.on('chat', (m) => seen.push(m.id));
  client.join('lobby');
  client.connect();
  await client.send('lobby', 'before');
  await until(client, () => seen.length === 1 || undefined, 'first message');

  await server.stop();
  await until(client, () => client.state === 'reconnecting' || undefined, 'reconnecting');
  const queued = client.send('lobby', 'while down');

  // The server comes back with the same data plus a message the client has not seen.
  const again = new ScriptedServer();
  again.messages = server.messages;
  again.byCid = server.byCid;
  again.store('lobby', 'from someone else');
  await again.listen(port);
  t.after(() => again.stop());

  const ack = await queued;
  assert.equal(ack.id, 3);
  await until(client, () => seen.length === 3 || undefined, 'replay and own message');
  assert.deepEqual(seen, [1, 2, 3]);
  const join = again.received.find((f) => f.type === 'join');
  assert.equal(join?.after, 1, 'rejoined after the last delivered id');
});

test('a hole in live messages makes the client re-sync with join after, and nothing is lost', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  t.after(() => server.stop());
  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: fast });
  t.after(() => client.close());
  const seen: number[] = [];
  client.on('chat', (m) => seen.push(m.id));
  client.join('lobby');
  client.connect();
  await client.send('lobby', 'a');
  server.skipLive.add(2);
  await client.send('lobby', 'b');
  await client.send('lobby', 'c');
  await until(client, () => seen.length === 3 || undefined, 'three messages');
  assert.deepEqual(seen, [1, 2, 3]);
  const resync = server.received.filter((f) => f.type === 'join' && f.after === 1);
  assert.equal(resync.length, 1);
});

test('an error answering a send rejects its promise with the code', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  t.after(() => server.stop());
  server.onChat = () => 'too-large';
  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: fast });
  t.after(() => client.close());
  client.connect();
  await assert.rejects(client.send('lobby', 'x'.repeat(10)), (err: unknown) => err instanceof ParleyError && err.code === 'too_large');
  assert.equal(client.pendingSends, 0);
});

test('a 401 at the upgrade stops the client for good and says why', async (t) => {
  const server = new ScriptedServer();
  server.refuseWith = 401;
  await server.listen();
  t.after(() => server.stop());
  const client = new ParleyClient({ url: server.url, token: 'bad', reconnect: fast });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => client.on('closed', resolve));
  const pending = client.send('lobby', 'never');
  client.connect();
  const info = await closed;
  assert.equal(info.code, 401);
  assert.match(info.reason, /unauthorized/);
  assert.equal(client.state, 'closed');
  await assert.rejects(pending, (err: unknown) => err instanceof ParleyError && err.code === 'closed');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(server.upgrades, 1, 'no retry after 401');
});

test('a server that is down is retried with growing delays, not hammered', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  const url = server.url;
  await server.stop();
  const client = new ParleyClient({ url, reconnect: { minDelayMs: 10, maxDelayMs: 80 } });
  t.after(() => client.close());
  const delays: number[] = [];
  const attempts: number[] = [];
  client.on('state', (s) => {
    if (s.state === 'reconnecting') {
      delays.push(s.delayMs!);
      attempts.push(s.attempt!);
    }
  });
  client.connect();
  await until(client, () => attempts.length >= 6 || undefined, 'six attempts');
  assert.deepEqual(attempts.slice(0, 6), [1, 2, 3, 4, 5, 6]);
  assert.ok(delays.every((d) => d >= 10 && d <= 80));
});

test('history resolves with the stored messages of the room', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  t.after(() => server.stop());
  server.store('lobby', 'old one');
  server.store('lobby', 'old two');
  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: fast });
  t.after(() => client.close());
  const result = client.history('lobby', { limit: 10 });
  client.connect();
  const { data, more } = await result;
  assert.deepEqual(data.map((m) => m.data), ['old one', 'old two']);
  assert.equal(more, false);
});

test('like a browser (a WebSocket class that hides the status): the token goes in the query, and /api/me decides that the session is gone', async (t) => {
  const server = new ScriptedServer();
  server.refuseWith = 401;
  await server.listen();
  t.after(() => server.stop());
  const client = new ParleyClient({
    url: server.url,
    token: 'tok',
    WebSocket: NodeWebSocket as unknown as WebSocketConstructor,
    reconnect: fast,
  });
  const closed = new Promise<{ code: number }>((resolve) => client.on('closed', resolve));
  client.connect();
  assert.equal((await closed).code, 401);
  assert.deepEqual(server.upgradeUrls, ['/ws/chat?token=tok']);
});

test('a silently dead connection (no answer to pings) is dropped and replaced, and nothing is lost', async (t) => {
  const server = new ScriptedServer();
  await server.listen();
  t.after(() => server.stop());
  const client = new ParleyClient({ url: server.url, token: 'tok', reconnect: fast, keepAliveMs: 100 });
  t.after(() => client.close());
  const seen: string[] = [];
  client.on('chat', (m) => seen.push(m.data));
  const reasons: string[] = [];
  client.on('state', (s) => s.state === 'reconnecting' && reasons.push(s.reason ?? ''));
  client.join('lobby');
  client.connect();
  await client.send('lobby', 'before');
  server.freezeAll();
  server.store('lobby', 'while frozen');
  const ack = await client.send('lobby', 'after');
  await until(client, () => seen.length === 3 || undefined, 'three messages');
  assert.deepEqual(seen, ['before', 'while frozen', 'after']);
  assert.equal(ack.id, 3);
  assert.match(reasons[0] ?? '', /no answer/);
});

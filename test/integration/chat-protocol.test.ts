import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ChatClient, signInGuest, upgradeStatus, type SignedIn } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('chat protocol on /ws/chat', () => {
  let server: TestServer;
  let alice: SignedIn;
  let bob: SignedIn;
  let carol: SignedIn;
  const open: ChatClient[] = [];
  const connect = async (who: SignedIn, options?: WebSocket.ClientOptions) => {
    const c = await ChatClient.connect(server.wsUrl, who.token, options);
    open.push(c);
    return c;
  };

  before(async () => {
    server = await startTestServer();
    alice = await signInGuest(server.url, 'alice');
    bob = await signInGuest(server.url, '小明');
    carol = await signInGuest(server.url, 'carol');
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await server.close();
  });

  it('welcomes a connection with its user, its uuid, its IP and the rooms it can see', async () => {
    const a = await connect(alice);
    const welcome = a.frames[0]!;
    assert.equal(welcome.type, 'welcome');
    assert.deepEqual(welcome.user, { id: alice.user.id, name: 'alice', guest: true });
    const conn = welcome.conn as { id: string; ip: string };
    assert.match(conn.id, /^[0-9a-f-]{36}$/);
    assert.equal(conn.ip, '127.0.0.1');
    assert.ok((welcome.rooms as string[]).includes('lobby'));
  });

  it('gives each connection its own uuid', async () => {
    const a1 = await connect(alice);
    const a2 = await connect(alice);
    assert.notEqual((a1.frames[0]!.conn as { id: string }).id, (a2.frames[0]!.conn as { id: string }).id);
  });

  it('numbers room messages 1, 2, 3 and acks each cid with its id', async () => {
    const room = 'numbering';
    await createRoom(server.url, alice.token, room);
    const a = await connect(alice);
    a.send({ type: 'join', room });
    assert.equal((await a.next('list')).lastId, 0);
    for (let i = 1; i <= 3; i++) a.send({ type: 'chat', room, data: `m${i}`, cid: `c${i}` });
    const acks = [await a.next('ack'), await a.next('ack'), await a.next('ack')];
    assert.deepEqual(acks.map((x) => [x.cid, x.id, x.room]), [['c1', 1, room], ['c2', 2, room], ['c3', 3, room]]);
    const chats = a.all('chat').filter((f) => f.room === room);
    assert.deepEqual(chats.map((f) => [f.id, f.data]), [[1, 'm1'], [2, 'm2'], [3, 'm3']]);
    assert.deepEqual(chats[0]!.user, { id: alice.user.id, name: 'alice', guest: true });
    assert.equal(typeof chats[0]!.ts, 'number');
    // A later joiner's list says where its subscription starts, and when that message was stored.
    const b = await connect(bob);
    b.send({ type: 'join', room });
    const list = await b.next('list');
    assert.deepEqual([list.lastId, list.lastTs], [3, chats[2]!.ts]);
    // A room followed by nobody yet (its channel is new) knows it too, from the store.
    await a.close();
    await b.close();
    const c = await connect(bob);
    c.send({ type: 'join', room });
    const fresh = await c.next('list');
    assert.deepEqual([fresh.lastId, fresh.lastTs], [3, chats[2]!.ts]);
  });

  it('stores a retried cid once and acks it with the same id', async () => {
    const room = 'retry';
    await createRoom(server.url, alice.token, room);
    const a = await connect(alice);
    a.send({ type: 'chat', room, data: 'once', cid: 'same' });
    const first = await a.next('ack');
    a.send({ type: 'chat', room, data: 'once', cid: 'same' });
    const second = await a.next('ack');
    assert.equal(second.id, first.id);
    const res = await fetch(`${server.url}/api/rooms/${room}/messages`, { headers: { authorization: `Bearer ${alice.token}` } });
    const body = (await res.json()) as { data: unknown[] };
    assert.equal(body.data.length, 1);
  });

  it('sets the sender from the session and ignores a user or from sent by the client', async () => {
    const room = 'spoof';
    await createRoom(server.url, alice.token, room);
    const a = await connect(alice);
    const b = await connect(bob);
    b.send({ type: 'join', room });
    await b.next('list');
    a.send({ type: 'chat', room, data: 'hi', cid: 'x', user: { id: bob.user.id, name: '小明' }, from: bob.user.id });
    const got = await b.next('chat', (f) => f.room === room);
    assert.deepEqual(got.user, { id: alice.user.id, name: 'alice', guest: true });
  });

  it('broadcasts to every subscriber and not to connections outside the room', async () => {
    const room = 'broadcast';
    await createRoom(server.url, alice.token, room);
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    for (const x of [a, b]) {
      x.send({ type: 'join', room });
      await x.next('list');
    }
    a.send({ type: 'chat', room, data: '大家好 👋', cid: 'hello' });
    assert.equal((await b.next('chat', (f) => f.room === room)).data, '大家好 👋');
    await a.next('ack');
    // carol is connected but not subscribed: she gets nothing of that room.
    c.send({ type: 'history', room: 'lobby' });
    await c.next('history');
    assert.equal(c.all('chat').filter((f) => f.room === room).length, 0);
  });

  it('announces presence per user: the first connection joins, the last one leaves', async () => {
    const room = 'presence';
    await createRoom(server.url, alice.token, room);
    const watcher = await connect(carol);
    watcher.send({ type: 'join', room });
    await watcher.next('list');
    const b1 = await connect(bob);
    b1.send({ type: 'join', room });
    const list = await b1.next('list');
    assert.deepEqual(
      (list.data as Array<{ name: string }>).map((u) => u.name).sort(),
      ['carol', '小明'].sort(),
    );
    await watcher.next('join', (f) => (f.user as { id: number }).id === bob.user.id);
    const b2 = await connect(bob);
    b2.send({ type: 'join', room });
    await b2.next('list');
    await b1.close();
    // Bob still has a tab open: no `left` yet. Closing the second tab makes him leave.
    await b2.close();
    const left = await watcher.next('left', (f) => f.room === room);
    assert.equal((left.user as { id: number }).id, bob.user.id);
    const joins = watcher.all('join').filter((f) => f.room === room && (f.user as { id: number }).id === bob.user.id);
    const lefts = watcher.all('left').filter((f) => f.room === room);
    assert.equal(joins.length, 1);
    assert.equal(lefts.length, 1);
  });

  it('follows several rooms on one connection: leaving one keeps the others, closing leaves them all', async () => {
    const rooms = ['multi-a', 'multi-b', 'multi-c'];
    for (const room of rooms) await createRoom(server.url, alice.token, room);
    const watcher = await connect(carol);
    const b = await connect(bob);
    for (const room of rooms) {
      for (const x of [watcher, b]) {
        x.send({ type: 'join', room });
        await x.next('list', (f) => f.room === room);
      }
    }
    b.send({ type: 'leave', room: 'multi-b' });
    await watcher.next('left', (f) => f.room === 'multi-b');
    for (const room of rooms) watcher.send({ type: 'chat', room, data: `to ${room}`, cid: `multi-${room}` });
    for (const room of ['multi-a', 'multi-c']) assert.equal((await b.next('chat', (f) => f.room === room)).data, `to ${room}`);
    // The room bob left gets nothing to him; a chat he sends to a public room still goes out.
    b.send({ type: 'chat', room: 'multi-a', data: 'still here', cid: 'multi-still' });
    const still = await watcher.next('chat', (f) => f.room === 'multi-a' && f.data === 'still here');
    assert.equal((still.user as { id: number }).id, bob.user.id);
    assert.equal(b.all('chat').filter((f) => f.room === 'multi-b').length, 0);
    await b.close();
    for (const room of ['multi-a', 'multi-c']) {
      const left = await watcher.next('left', (f) => f.room === room);
      assert.equal((left.user as { id: number }).id, bob.user.id);
    }
  });

  it('forgets a room on this node when its last subscriber leaves, and serves it again on the next join', async () => {
    const room = 'ephemeral';
    await createRoom(server.url, alice.token, room);
    const active = async () => Number(/^parley_rooms_active (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1]);
    const before = await active();
    const a = await connect(alice);
    a.send({ type: 'join', room });
    await a.next('list');
    assert.equal(await active(), before + 1);
    a.send({ type: 'leave', room });
    a.send({ type: 'history', room });
    await a.next('history');
    assert.equal(await active(), before);
    const b = await connect(bob);
    for (const c of [a, b]) {
      c.send({ type: 'join', room });
      await c.next('list', (f) => f.room === room);
    }
    a.send({ type: 'chat', room, data: 'again', cid: 'again' });
    assert.equal((await b.next('chat', (f) => f.room === room)).data, 'again');
  });

  it('answers not_found for a room that does not exist', async () => {
    const a = await connect(alice);
    a.send({ type: 'join', room: 'nowhere' });
    const err = await a.next('error');
    assert.equal(err.code, 'not_found');
    a.send({ type: 'chat', room: 'nowhere', data: 'x', cid: 'nf' });
    const err2 = await a.next('error');
    assert.equal(err2.code, 'not_found');
    assert.equal(err2.cid, 'nf');
  });

  it('keeps private rooms to their members, and answers a non-member as if the room did not exist', async () => {
    const room = 'secret';
    const res = await fetch(`${server.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: room, private: true }),
    });
    assert.equal(res.status, 201);
    const c = await connect(carol);
    assert.ok(!(c.frames[0]!.rooms as string[]).includes(room));
    // The same frame to a private room and to a missing one gets the same error, but for the name.
    const missing = 'no-such-secret';
    const refusal = async (frame: Record<string, unknown>) => {
      c.send(frame);
      const { type, code, message, cid } = await c.next('error');
      return { type, code, message: String(message).replace(String(frame.room), 'ROOM'), cid };
    };
    for (const frame of [{ type: 'join' }, { type: 'chat', data: 'x', cid: 'p' }, { type: 'history' }, { type: 'typing' }]) {
      const forPrivate = await refusal({ ...frame, room });
      assert.deepEqual(forPrivate, await refusal({ ...frame, room: missing }), `${frame.type}`);
      assert.equal(forPrivate.code, 'not_found');
    }
    const a = await connect(alice);
    assert.ok((a.frames[0]!.rooms as string[]).includes(room));
    a.send({ type: 'join', room });
    await a.next('list');
  });

  it('delivers a direct message to the other user without a join, in a private dm room', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    a.send({ type: 'dm', to: bob.user.id, data: 'psst', cid: 'dm1' });
    const ack = await a.next('ack');
    const [lo, hi] = [alice.user.id, bob.user.id].sort((x, y) => x - y);
    assert.equal(ack.room, `dm:${lo}:${hi}`);
    const got = await b.next('chat', (f) => f.room === ack.room);
    assert.equal(got.data, 'psst');
    assert.equal(got.id, ack.id);
    b.send({ type: 'dm', to: alice.user.id, data: 'back', cid: 'dm2' });
    assert.equal((await a.next('chat', (f) => f.data === 'back')).room, ack.room);
    const c = await connect(carol);
    c.send({ type: 'history', room: ack.room });
    assert.equal((await c.next('error')).code, 'not_found');
    c.send({ type: 'join', room: ack.room });
    assert.equal((await c.next('error')).code, 'not_found');
  });

  it('tells every connection of a new public room, and only the invited user of a private room they were added to', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    await createRoom(server.url, alice.token, 'announcements');
    for (const client of [a, b, c]) assert.deepEqual(await client.next('room'), { type: 'room', room: 'announcements', private: false });
    await createRoom(server.url, alice.token, 'backstage', true);
    assert.deepEqual(await a.next('room'), { type: 'room', room: 'backstage', private: true }, 'its creator');
    const invited = await fetch(`${server.url}/api/rooms/backstage/members`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: bob.user.id }),
    });
    assert.equal(invited.status, 200);
    assert.deepEqual(await b.next('room'), { type: 'room', room: 'backstage', private: true }, 'the invited user');
    // The invited user may use it at once, on the same connection.
    b.send({ type: 'join', room: 'backstage' });
    await b.next('list', (f) => f.room === 'backstage');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!c.all('room').some((f) => f.room === 'backstage'), 'nobody else hears of it');
  });

  it('pages history oldest first with more', async () => {
    const room = 'paging';
    await createRoom(server.url, alice.token, room);
    const a = await connect(alice);
    for (let i = 1; i <= 7; i++) a.send({ type: 'chat', room, data: `h${i}`, cid: `h${i}` });
    for (let i = 1; i <= 7; i++) await a.next('ack');
    a.send({ type: 'history', room, limit: 3 });
    const last = await a.next('history');
    assert.deepEqual((last.data as Array<{ id: number }>).map((m) => m.id), [5, 6, 7]);
    assert.equal(last.more, true);
    a.send({ type: 'history', room, before: 5, limit: 3 });
    const older = await a.next('history');
    assert.deepEqual((older.data as Array<{ id: number }>).map((m) => m.id), [2, 3, 4]);
    assert.equal(older.more, true);
    a.send({ type: 'history', room, before: 2, limit: 3 });
    const oldest = await a.next('history');
    assert.deepEqual((oldest.data as Array<{ id: number }>).map((m) => m.id), [1]);
    assert.equal(oldest.more, false);
  });

  it('echoes a history request\'s rid in its answer and in an error about it, and no other error', async () => {
    const a = await connect(alice);
    a.send({ type: 'history', room: 'lobby', limit: 1, rid: 'r-1' });
    const page = await a.next('history');
    assert.equal(page.rid, 'r-1');
    a.send({ type: 'history', room: 'nowhere', rid: 'r-2' });
    const refused = await a.next('error');
    assert.equal(refused.code, 'not_found');
    assert.equal(refused.rid, 'r-2');
    a.send({ type: 'history', room: 'lobby', limit: 0, rid: 'r-3' });
    const bad = await a.next('error');
    assert.equal(bad.code, 'bad_request');
    assert.equal(bad.rid, 'r-3');
    a.send({ type: 'join', room: 'nowhere' });
    const other = await a.next('error');
    assert.equal(other.rid, undefined);
  });

  it('tells a guest from an account of the same name: guest: true on the guest, in messages, presence and history', async () => {
    const room = 'two-sams';
    await createRoom(server.url, alice.token, room);
    // The guest took the name first; then somebody registered it.
    const samGuest = await signInGuest(server.url, 'sam');
    const res = await fetch(`${server.url}/api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sam', password: 'sams password' }),
    });
    assert.equal(res.status, 201);
    const samAccount = (await res.json()) as SignedIn;
    const asGuest = { id: samGuest.user.id, name: 'sam', guest: true };
    const asAccount = { id: samAccount.user.id, name: 'sam' };
    const g = await connect(samGuest);
    const a = await connect(samAccount);
    g.send({ type: 'join', room });
    await g.next('list');
    a.send({ type: 'join', room });
    assert.deepEqual((await a.next('list')).data, [asGuest, asAccount].sort((x, y) => x.id - y.id), 'the people list');
    assert.deepEqual((await g.next('join')).user, asAccount, 'an account has no guest key');
    g.send({ type: 'chat', room, data: 'from the guest', cid: 'g' });
    a.send({ type: 'chat', room, data: 'from the account', cid: 'a' });
    a.send({ type: 'typing', room });
    assert.deepEqual((await g.next('typing')).user, asAccount);
    const live = [await a.next('chat'), await a.next('chat')].map((f) => [f.data, f.user]);
    assert.deepEqual(live, [['from the guest', asGuest], ['from the account', asAccount]]);
    a.send({ type: 'history', room });
    const page = await a.next('history');
    assert.deepEqual((page.data as Array<{ data: string; user: unknown }>).map((m) => [m.data, m.user]), live);
  });

  it('relays typing to the others in the room', async () => {
    const room = 'typing';
    await createRoom(server.url, alice.token, room);
    const a = await connect(alice);
    const b = await connect(bob);
    for (const x of [a, b]) {
      x.send({ type: 'join', room });
      await x.next('list');
    }
    a.send({ type: 'typing', room });
    const t = await b.next('typing');
    assert.deepEqual(t, { type: 'typing', room, user: { id: alice.user.id, name: 'alice', guest: true } });
  });

  it('answers bad input with bad_request and keeps the connection open', async () => {
    const a = await connect(alice);
    a.ws.send('not json');
    assert.equal((await a.next('error')).code, 'bad_request');
    a.send({ type: 'fly', room: 'lobby' });
    assert.equal((await a.next('error')).code, 'bad_request');
    a.send({ type: 'chat', room: 'lobby', data: 42, cid: 'bad' });
    const err = await a.next('error');
    assert.equal(err.code, 'bad_request');
    assert.equal(err.cid, 'bad');
    a.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await a.next('error')).code, 'bad_request');
    a.send({ type: 'join', room: 'lobby' });
    await a.next('list');
  });

  it('refuses text with a lone surrogate escape (it could not be stored as sent) and stores nothing', async () => {
    const a = await connect(alice);
    a.send({ type: 'join', room: 'lobby' });
    const { lastId } = await a.next('list');
    // Valid JSON in a valid UTF-8 frame, but "\ud800" alone is not a character.
    a.ws.send('{"type":"chat","room":"lobby","data":"a\\ud800b","cid":"lone"}');
    const err = await a.next('error');
    assert.equal(err.code, 'bad_request');
    assert.equal(err.cid, 'lone');
    a.ws.send('{"type":"chat","room":"lobby","data":"ok","cid":"x\\udfff"}');
    assert.equal((await a.next('error')).code, 'bad_request');
    // An escaped pair is one character, stored and sent back as it came.
    a.ws.send('{"type":"chat","room":"lobby","data":"\\ud83d\\ude00","cid":"pair"}');
    const ack = await a.next('ack');
    assert.equal(ack.cid, 'pair');
    assert.equal(ack.id, (lastId as number) + 1);
    a.send({ type: 'history', room: 'lobby', limit: 1 });
    const page = await a.next('history');
    assert.deepEqual((page.data as Array<{ data: string }>).map((m) => m.data), ['😀']);
  });

  it('refuses a message longer than MAX_TEXT with too_large', async () => {
    const a = await connect(alice);
    a.send({ type: 'chat', room: 'lobby', data: 'x'.repeat(4001), cid: 'big' });
    const err = await a.next('error');
    assert.equal(err.code, 'too_large');
    assert.equal(err.cid, 'big');
    // 4000 Chinese characters are 4000 characters, whatever their byte length.
    a.send({ type: 'chat', room: 'lobby', data: '字'.repeat(4000), cid: 'ok' });
    assert.equal((await a.next('ack')).cid, 'ok');
  });

  it('closes with 1009 a frame larger than MAX_PAYLOAD', async () => {
    const a = await connect(alice);
    a.ws.send(JSON.stringify({ type: 'chat', room: 'lobby', data: 'x'.repeat(70_000) }));
    assert.equal(await a.closed, 1009);
  });
});

describe('upgrade refusals happen before the handshake, with an HTTP status', () => {
  let server: TestServer;
  let alice: SignedIn;
  before(async () => {
    server = await startTestServer({ MAX_CONNECTIONS: '2' });
    alice = await signInGuest(server.url, 'alice');
  });
  after(() => server.close());

  it('401 without a session and with a forged one', async () => {
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`), 401);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat?token=${alice.token}x`), 401);
  });

  it('accepts the token as a bearer header, a cookie and a query parameter', async () => {
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${alice.token}` } }), 101);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers: { cookie: `parley_session=${alice.token}` } }), 101);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat?token=${encodeURIComponent(alice.token)}`), 101);
  });

  it('403 for a foreign Origin, 101 for the same origin', async () => {
    const headers = { authorization: `Bearer ${alice.token}` };
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: 'http://evil.example' }), 403);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: server.url }), 101);
  });

  it('404 for an unknown path', async () => {
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/nope`), 404);
  });

  it('503 at the connection limit', async () => {
    const a = await ChatClient.connect(server.wsUrl, alice.token);
    const b = await ChatClient.connect(server.wsUrl, alice.token);
    assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${alice.token}` } }), 503);
    await a.close();
    await b.close();
  });
});

describe('allowed origins', () => {
  it('accepts only the configured origins', async () => {
    const server = await startTestServer({ ALLOWED_ORIGINS: 'https://chat.example.com' });
    try {
      const alice = await signInGuest(server.url, 'alice');
      const headers = { authorization: `Bearer ${alice.token}` };
      assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: 'https://chat.example.com' }), 101);
      assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers, origin: server.url }), 403);
    } finally {
      await server.close();
    }
  });
});

describe('/ws/echo', () => {
  it('answers ECHO: <text> to text and echoes binary as binary', async () => {
    const server = await startTestServer();
    try {
      const ws = new WebSocket(`${server.wsUrl}/ws/echo`);
      const replies: Array<{ data: Buffer; isBinary: boolean }> = [];
      ws.on('message', (data, isBinary) => replies.push({ data: data as Buffer, isBinary }));
      await new Promise((r) => ws.once('open', r));
      ws.send('你好');
      ws.send(Buffer.from([0, 255, 7]));
      while (replies.length < 2) await new Promise((r) => setTimeout(r, 10));
      assert.equal(replies[0]!.isBinary, false);
      assert.equal(replies[0]!.data.toString(), 'ECHO: 你好');
      assert.equal(replies[1]!.isBinary, true);
      assert.deepEqual([...replies[1]!.data], [0, 255, 7]);
      ws.close();
    } finally {
      await server.close();
    }
  });

  it('counts echo connections against the limit and closes them at shutdown', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '1' });
    let closed: Promise<number> | undefined;
    try {
      const ws = new WebSocket(`${server.wsUrl}/ws/echo`);
      closed = new Promise((resolve) => ws.once('close', resolve));
      await new Promise((r) => ws.once('open', r));
      assert.equal(await upgradeStatus(`${server.wsUrl}/ws/echo`), 503);
    } finally {
      await server.close();
    }
    assert.equal(typeof (await closed), 'number', 'the echo client was disconnected by the shutdown');
  });
});

async function createRoom(url: string, token: string, name: string, priv = false): Promise<void> {
  const res = await fetch(`${url}/api/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, private: priv }),
  });
  assert.equal(res.status, 201, await res.text());
}

/**
 * The timeline over real sockets: edit, delete, react and reply frames, their acks and refusals,
 * history pages in the folded shape, and replay and HTTP catch-up carrying the events themselves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatClient, signInGuest, type Frame, type SignedIn } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function createRoom(url: string, token: string, name: string, priv = false): Promise<void> {
  const res = await fetch(`${url}/api/rooms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, private: priv }),
  });
  assert.equal(res.status, 201, await res.text());
}

async function getJson(url: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Frames without their ts, which the server sets. */
const withoutTs = (f: Frame) => {
  const { ts: _ts, ...rest } = f;
  return rest;
};

describe('the timeline on /ws/chat', () => {
  let server: TestServer;
  let ann: SignedIn;
  let bob: SignedIn;
  const open: ChatClient[] = [];
  const connect = async (who: SignedIn) => {
    const c = await ChatClient.connect(server.wsUrl, who.token);
    open.push(c);
    return c;
  };
  let rooms = 0;
  /** A fresh room that ann and bob follow, with one message of each: ids 1 (ann) and 2 (bob). */
  const setUp = async () => {
    const room = `t${++rooms}`;
    await createRoom(server.url, ann.token, room);
    const a = await connect(ann);
    const b = await connect(bob);
    for (const c of [a, b]) {
      c.send({ type: 'join', room });
      await c.next('list');
    }
    a.send({ type: 'chat', room, data: 'hello from ann', cid: 'a1' });
    await a.next('ack', (f) => f.cid === 'a1');
    b.send({ type: 'chat', room, data: 'hello from bob', cid: 'b1' });
    await b.next('ack', (f) => f.cid === 'b1');
    return { room, a, b };
  };

  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '0', MAX_TEXT: '50' });
    ann = await signInGuest(server.url, 'ann');
    bob = await signInGuest(server.url, 'bob');
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await server.close();
  });

  it('edits your message: acked, sent to the room as an edit with the next id, folded into history', async () => {
    const { room, a, b } = await setUp();
    a.send({ type: 'edit', room, target: 1, data: 'hello, fixed', cid: 'e1' });
    const ack = await a.next('ack', (f) => f.cid === 'e1');
    assert.equal(ack.id, 3);
    const edit = await b.next('edit');
    assert.deepEqual(withoutTs(edit), { type: 'edit', room, id: 3, user: { id: ann.user.id, name: 'ann', guest: true }, target: 1, data: 'hello, fixed', cid: 'e1' });
    assert.equal(edit.ts, ack.ts);
    b.send({ type: 'history', room });
    const page = await b.next('history');
    assert.equal(page.lastId, 3);
    assert.deepEqual((page.data as Frame[]).map(withoutTs), [
      { type: 'chat', room, id: 1, user: { id: ann.user.id, name: 'ann', guest: true }, data: 'hello, fixed', cid: 'a1', edited: ack.ts },
      { type: 'chat', room, id: 2, user: { id: bob.user.id, name: 'bob', guest: true }, data: 'hello from bob', cid: 'b1' },
    ]);
  });

  it('deletes your message: its text is gone from history and from the replay of its edits', async () => {
    const { room, a, b } = await setUp();
    a.send({ type: 'edit', room, target: 1, data: 'second thoughts', cid: 'e1' });
    await a.next('ack', (f) => f.cid === 'e1');
    a.send({ type: 'delete', room, target: 1, cid: 'd1' });
    const ack = await a.next('ack', (f) => f.cid === 'd1');
    assert.equal(ack.id, 4);
    assert.deepEqual(withoutTs(await b.next('delete')), { type: 'delete', room, id: 4, user: { id: ann.user.id, name: 'ann', guest: true }, target: 1, cid: 'd1' });
    b.send({ type: 'history', room });
    const page = await b.next('history');
    assert.deepEqual(withoutTs((page.data as Frame[])[0]!), { type: 'chat', room, id: 1, user: { id: ann.user.id, name: 'ann', guest: true }, data: '', cid: 'a1', deleted: true });
    const c = await connect(bob);
    c.send({ type: 'join', room, after: 0 });
    await c.next('list');
    const replay = c.frames.filter((f) => f.room === room && f.id !== undefined);
    assert.deepEqual(replay.map((f) => [f.type, f.id]), [['chat', 1], ['chat', 2], ['edit', 3], ['delete', 4]]);
    assert.ok(!JSON.stringify(replay).includes('hello from ann') && !JSON.stringify(replay).includes('second thoughts'));
  });

  it('reacts and takes a reaction back; history shows who reacted with what', async () => {
    const { room, a, b } = await setUp();
    b.send({ type: 'react', room, target: 1, emoji: '👍', cid: 'r1' });
    const on = await b.next('ack', (f) => f.cid === 'r1');
    assert.deepEqual(withoutTs(await a.next('react')), { type: 'react', room, id: 3, user: { id: bob.user.id, name: 'bob', guest: true }, target: 1, emoji: '👍', on: true, cid: 'r1' });
    a.send({ type: 'react', room, target: 1, emoji: '👍' });
    a.send({ type: 'react', room, target: 1, emoji: '👩🏽‍💻', on: true });
    a.send({ type: 'react', room, target: 1, emoji: '👍', on: false, cid: 'r2' });
    await a.next('ack', (f) => f.cid === 'r2');
    // The same reaction again: acked with the event that put it on, nothing new stored.
    b.send({ type: 'react', room, target: 1, emoji: '👍', cid: 'r3' });
    assert.deepEqual(withoutTs(await b.next('ack', (f) => f.cid === 'r3')), { type: 'ack', cid: 'r3', room, id: on.id });
    b.send({ type: 'history', room, limit: 1, before: 2 });
    const page = await b.next('history');
    assert.deepEqual((page.data as Frame[])[0]!.reactions, { '👍': [bob.user.id], '👩🏽‍💻': [ann.user.id] });
    assert.equal(page.lastId, 6);
  });

  it('replies to a message of the room, and refuses a reply to anything else with not_found', async () => {
    const { room, a, b } = await setUp();
    b.send({ type: 'chat', room, data: 'yes!', reply: 1, cid: 'y' });
    const ack = await b.next('ack', (f) => f.cid === 'y');
    const chat = await a.next('chat', (f) => f.id === ack.id);
    assert.equal(chat.reply, 1);
    b.send({ type: 'chat', room, data: 'to nothing', reply: 99, cid: 'n' });
    const refused = await b.next('error', (f) => f.cid === 'n');
    assert.deepEqual([refused.code, refused.room], ['not_found', room]);
    b.send({ type: 'history', room });
    const page = await b.next('history');
    assert.deepEqual((page.data as Frame[]).map((m) => [m.id, m.reply]), [[1, undefined], [2, undefined], [3, 1]]);
  });

  it('refuses edits, deletes and reactions that may not be, each with its code, and changes nothing', async () => {
    const { room, a, b } = await setUp();
    await createRoom(server.url, ann.token, `${room}-private`, true);
    a.send({ type: 'chat', room: `${room}-private`, data: 'members only', cid: 'p' });
    await a.next('ack', (f) => f.cid === 'p');
    const refusals: Array<[object, string]> = [
      [{ type: 'edit', room, target: 1, data: 'not mine', cid: 'x1' }, 'forbidden'],
      [{ type: 'delete', room, target: 1, cid: 'x2' }, 'forbidden'],
      [{ type: 'edit', room, target: 42, data: 'nothing there', cid: 'x3' }, 'not_found'],
      [{ type: 'delete', room, target: 42, cid: 'x4' }, 'not_found'],
      [{ type: 'react', room, target: 42, emoji: '👍', cid: 'x5' }, 'not_found'],
      [{ type: 'react', room, target: 1, emoji: '👍', on: false, cid: 'x6' }, 'not_found'],
      [{ type: 'edit', room: `${room}-private`, target: 1, data: 'let me in', cid: 'x7' }, 'not_found'],
      [{ type: 'react', room: `${room}-private`, target: 1, emoji: '👍', cid: 'x8' }, 'not_found'],
      [{ type: 'delete', room: 'no-such-room', target: 1, cid: 'x9' }, 'not_found'],
      [{ type: 'edit', room, target: 2, data: 'x'.repeat(51), cid: 'x10' }, 'too_large'],
      [{ type: 'react', room, target: 1, emoji: 'ok', cid: 'x11' }, 'bad_request'],
      [{ type: 'react', room, target: 1, emoji: '👍👍', cid: 'x12' }, 'bad_request'],
      [{ type: 'react', room, target: 1, emoji: '👍'.repeat(20), cid: 'x13' }, 'bad_request'],
      [{ type: 'edit', room, target: 0, data: 'x', cid: 'x14' }, 'bad_request'],
      [{ type: 'edit', room, target: 2, data: '', cid: 'x15' }, 'bad_request'],
      [{ type: 'chat', room, data: 'a reply to an event', reply: 0, cid: 'x16' }, 'bad_request'],
    ];
    for (const [frame, code] of refusals) {
      b.send(frame);
      const err = await b.next('error', (f) => f.cid === (frame as { cid: string }).cid);
      assert.equal(err.code, code, JSON.stringify(frame));
    }
    b.send({ type: 'history', room });
    const page = await b.next('history');
    assert.equal(page.lastId, 2, 'nothing was stored');
    assert.deepEqual((page.data as Frame[]).map((m) => m.data), ['hello from ann', 'hello from bob']);
    // The 21st different emoji on one message is refused; one it has already is not.
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'];
    for (const e of emoji) a.send({ type: 'react', room, target: 2, emoji: e });
    a.send({ type: 'react', room, target: 2, emoji: '🤩', cid: 'too-many' });
    const tooMany = await a.next('error', (f) => f.cid === 'too-many');
    assert.equal(tooMany.code, 'forbidden');
    b.send({ type: 'react', room, target: 2, emoji: '😀', cid: 'same' });
    assert.equal((await b.next('ack', (f) => f.cid === 'same')).id, 23);
  });

  it('gives a client that was away the edit, the reaction and the delete on rejoin, in id order, once', async () => {
    const { room, a, b } = await setUp();
    a.send({ type: 'chat', room, data: 'third', cid: 'a2' });
    await b.next('chat', (f) => f.id === 3);
    await b.close();
    a.send({ type: 'edit', room, target: 3, data: 'third, edited', cid: 'e' });
    a.send({ type: 'react', room, target: 3, emoji: '🎉', cid: 'r' });
    a.send({ type: 'delete', room, target: 3, cid: 'd' });
    await a.next('ack', (f) => f.cid === 'd');
    const back = await connect(bob);
    back.send({ type: 'join', room, after: 3 });
    await back.next('list');
    const replayed = back.frames.filter((f) => f.room === room && f.id !== undefined);
    assert.deepEqual(replayed.map((f) => [f.type, f.id, f.target]), [['edit', 4, 3], ['react', 5, 3], ['delete', 6, 3]]);
    assert.equal(replayed[0]!.data, '', 'the edit of a deleted message comes without its text');
    // Live from here on: one more event arrives once.
    a.send({ type: 'react', room, target: 2, emoji: '👍', cid: 'r2' });
    const live = await back.next('react');
    assert.equal(live.id, 7);
    assert.equal(back.frames.filter((f) => f.id === 7).length, 1);
  });

  it('serves history pages folded and, with after, the events themselves over HTTP', async () => {
    const { room, a } = await setUp();
    a.send({ type: 'edit', room, target: 1, data: 'edited', cid: 'e' });
    a.send({ type: 'react', room, target: 2, emoji: '❤️', cid: 'r' });
    a.send({ type: 'delete', room, target: 1, cid: 'd' });
    await a.next('ack', (f) => f.cid === 'd');
    const base = `${server.url}/api/rooms/${room}/messages`;
    const page = await getJson(base, bob.token);
    assert.equal(page.status, 200);
    assert.equal(page.body.lastId, 5);
    assert.deepEqual((page.body.data as Frame[]).map(withoutTs), [
      { type: 'chat', room, id: 1, user: { id: ann.user.id, name: 'ann', guest: true }, data: '', cid: 'a1', deleted: true },
      { type: 'chat', room, id: 2, user: { id: bob.user.id, name: 'bob', guest: true }, data: 'hello from bob', cid: 'b1', reactions: { '❤️': [ann.user.id] } },
    ]);
    const catchUp = await getJson(`${base}?after=1`, bob.token);
    assert.deepEqual((catchUp.body.data as Frame[]).map((f) => [f.type, f.id]), [['chat', 2], ['edit', 3], ['react', 4], ['delete', 5]]);
    assert.equal(catchUp.body.lastId, undefined);
    assert.equal((catchUp.body.data as Frame[])[1]!.data, '', 'an erased edit has no text');
  });
});

describe('the timeline and RATE_LIMIT', () => {
  it('counts edits, deletes and reactions against the rate limit', async () => {
    const server = await startTestServer({ RATE_LIMIT: '2' });
    const ann = await signInGuest(server.url, 'ann');
    const a = await ChatClient.connect(server.wsUrl, ann.token);
    try {
      a.send({ type: 'chat', room: 'lobby', data: 'one', cid: 'c' });
      await a.next('ack');
      // A burst of 4 passes (twice the rate); the rest are refused.
      for (let i = 0; i < 5; i++) a.send({ type: 'react', room: 'lobby', target: 1, emoji: '👍', on: i % 2 === 0, cid: `r${i}` });
      const refused = await a.next('error', (f) => f.code === 'rate_limited');
      assert.equal(refused.cid, 'r3');
      assert.equal(refused.room, 'lobby');
    } finally {
      await a.close();
      await server.close();
    }
  });
});

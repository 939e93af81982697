/**
 * Search over real sockets and HTTP: the rooms a user may read and no others, Chinese by its
 * characters, paging by ts, and the refusals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatClient, signInGuest, type Frame, type SignedIn } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('search', () => {
  let server: TestServer;
  let ann: SignedIn;
  let bob: SignedIn;
  let eve: SignedIn;
  let a: ChatClient;
  let e: ChatClient;
  const texts = (f: Frame) => (f.data as Frame[]).map((m) => m.data);
  const get = async (path: string, token?: string) => {
    const res = await fetch(`${server.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '0' });
    ann = await signInGuest(server.url, 'ann');
    bob = await signInGuest(server.url, 'bob');
    eve = await signInGuest(server.url, 'eve');
    await fetch(`${server.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ann.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'inner', private: true }),
    });
    a = await ChatClient.connect(server.wsUrl, ann.token);
    e = await ChatClient.connect(server.wsUrl, eve.token);
    const sent = [
      { type: 'chat', room: 'lobby', data: '你好，大家好' },
      { type: 'chat', room: 'inner', data: '你好 from the inner room' },
      { type: 'dm', to: bob.user.id, data: '你好 bob, just us' },
      { type: 'chat', room: 'lobby', data: 'the quarterly report is out 🎉' },
    ];
    for (const [i, frame] of sent.entries()) {
      a.send({ ...frame, cid: `s${i}` });
      await a.next('ack', (f) => f.cid === `s${i}`);
    }
  });
  after(async () => {
    await Promise.all([a.close(), e.close()]);
    await server.close();
  });

  it('answers search with the matching messages of the rooms the user may read, newest first', async () => {
    a.send({ type: 'search', q: '你好', rid: 's-1' });
    const mine = await a.next('search');
    assert.equal(mine.rid, 's-1');
    assert.equal(mine.q, '你好');
    assert.deepEqual(texts(mine), ['你好 bob, just us', '你好 from the inner room', '你好，大家好']);
    assert.equal(mine.more, false);
    const first = (mine.data as Frame[])[2]!;
    assert.deepEqual(Object.keys(first).sort(), ['cid', 'data', 'id', 'room', 'ts', 'type', 'user']);
    e.send({ type: 'search', q: '好' });
    assert.deepEqual(texts(await e.next('search')), ['你好，大家好'], 'never another\'s DM or a private room');
    e.send({ type: 'search', q: 'QUARTERLY 🎉' });
    assert.deepEqual(texts(await e.next('search')), ['the quarterly report is out 🎉']);
  });

  it('searches one room when asked, and refuses a room the user may not read, naming the request', async () => {
    a.send({ type: 'search', q: '你好', room: 'inner' });
    assert.deepEqual(texts(await a.next('search')), ['你好 from the inner room']);
    e.send({ type: 'search', q: '你好', room: 'inner', rid: 'no' });
    const refused = await e.next('error');
    assert.deepEqual([refused.code, refused.rid], ['not_found', 'no']);
    e.send({ type: 'search', q: 'x', room: 'nowhere', rid: 'nf' });
    assert.deepEqual([(await e.next('error')).code], ['not_found']);
    for (const [frame, code] of [
      [{ type: 'search', q: '   ', rid: 'blank' }, 'bad_request'],
      [{ type: 'search', q: '', rid: 'empty' }, 'bad_request'],
      [{ type: 'search', q: 'x'.repeat(201), rid: 'long' }, 'bad_request'],
      [{ type: 'search', q: 'ok', limit: 101, rid: 'limit' }, 'bad_request'],
      [{ type: 'search', q: 'ok', before: -1, rid: 'before' }, 'bad_request'],
    ] as const) {
      e.send(frame);
      const err = await e.next('error');
      assert.deepEqual([err.code, err.rid], [code, frame.rid]);
    }
  });

  it('pages by ts with before over WebSocket and HTTP, losing and repeating nothing', async () => {
    for (let i = 0; i < 12; i++) a.send({ type: 'chat', room: 'lobby', data: `page item ${i}`, cid: `p${i}` });
    await a.next('ack', (f) => f.cid === 'p11');
    const viaWs: string[] = [];
    let before: number | undefined;
    for (let n = 0; n < 20; n++) {
      a.send({ type: 'search', q: 'page item', limit: 5, ...(before === undefined ? {} : { before }) });
      const page = await a.next('search');
      viaWs.push(...(texts(page) as string[]));
      if (!page.more) break;
      before = (page.data as Frame[]).at(-1)!.ts as number;
    }
    assert.equal(viaWs.length, 12);
    assert.equal(new Set(viaWs).size, 12);
    const viaHttp: string[] = [];
    let cursor = '';
    for (let n = 0; n < 20; n++) {
      const { status, body } = await get(`/api/search?q=${encodeURIComponent('page item')}&limit=5${cursor}`, ann.token);
      assert.equal(status, 200);
      viaHttp.push(...(body.data as Frame[]).map((m) => m.data as string));
      if (!body.more) break;
      cursor = `&before=${(body.data as Frame[]).at(-1)!.ts}`;
    }
    assert.deepEqual(viaHttp, viaWs);
  });

  it('answers GET /api/search like the frame, with 400, 401 and 404 where it must', async () => {
    const { status, body } = await get(`/api/search?q=${encodeURIComponent('你好')}&room=lobby`, eve.token);
    assert.equal(status, 200);
    assert.deepEqual([body.q, (body.data as Frame[]).map((m) => [m.type, m.data]), body.more], ['你好', [['chat', '你好，大家好']], false]);
    assert.equal((await get('/api/search?q=x')).status, 401);
    assert.equal((await get('/api/search', eve.token)).status, 400);
    assert.equal((await get('/api/search?q=%20', eve.token)).status, 400);
    assert.equal((await get('/api/search?q=x&limit=0', eve.token)).status, 400);
    assert.equal((await get('/api/search?q=x&before=soon', eve.token)).status, 400);
    assert.equal((await get('/api/search?q=x&room=inner', eve.token)).status, 404, 'a private room is answered as a missing one');
    assert.equal((await get('/api/search?q=x&room=nowhere', eve.token)).status, 404);
  });
});

/**
 * Moderation over real sockets and HTTP: roles, kick, ban, mute and their undoing, a moderator's
 * delete, the audit log, the limits on power (each refusal forbidden, saying why, changing nothing),
 * every way into a room a banned user tries, and an admin's ban everywhere (4003).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatClient, signInGuest, upgradeStatus, type Frame, type SignedIn } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function api(url: string, method: string, path: string, token: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

async function register(url: string, name: string): Promise<SignedIn> {
  const res = await fetch(`${url}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: 'correct horse battery' }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as SignedIn;
}

const who = (s: SignedIn) => (s.user.guest ? { id: s.user.id, name: s.user.name, guest: true } : { id: s.user.id, name: s.user.name });

/** The first frame received, at any time, that matches (waiting a bounded while for it), whatever came before. */
async function seen(c: ChatClient, match: (f: Frame) => boolean, what = 'a frame'): Promise<Frame> {
  for (let i = 0; i < 500; i++) {
    const found = c.frames.find(match);
    if (found) return found;
    if (c.closeCode !== undefined) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${what}; frames: ${JSON.stringify(c.frames.slice(-5))}`);
}

describe('moderation', () => {
  let server: TestServer;
  const open: ChatClient[] = [];
  let root: SignedIn; // an admin (ADMINS)
  let olga: SignedIn; // owns the rooms she creates
  let mia: SignedIn; // made a moderator
  let max: SignedIn; // another moderator
  let sam: SignedIn; // the spammer
  let ben: SignedIn; // a member
  let rooms = 0;

  const connect = async (s: SignedIn) => {
    const c = await ChatClient.connect(server.wsUrl, s.token);
    open.push(c);
    return c;
  };
  const joined = async (s: SignedIn, room: string) => {
    const c = await connect(s);
    c.send({ type: 'join', room });
    await c.next('list', (f) => f.room === room);
    return c;
  };
  const call = (s: SignedIn, method: string, path: string, body?: unknown) => api(server.url, method, path, s.token, body);
  /** A fresh public (or private) room owned by olga, where mia and max are moderators. */
  const setUp = async (priv = false) => {
    const room = `m${++rooms}`;
    assert.equal((await call(olga, 'POST', '/api/rooms', { name: room, private: priv })).status, 201);
    if (priv) for (const s of [mia, max, sam, ben]) assert.equal((await call(olga, 'POST', `/api/rooms/${room}/members`, { user: s.user.id })).status, 200);
    for (const s of [mia, max]) assert.equal((await call(olga, 'PUT', `/api/rooms/${room}/roles/${s.user.id}`, { role: 'moderator' })).status, 200);
    return room;
  };
  /** Sends a frame and waits for its ack or its error (by cid). */
  const ask = async (c: ChatClient, frame: Record<string, unknown>): Promise<Frame> => {
    const cid = `c${Math.random().toString(36).slice(2)}`;
    c.send({ ...frame, cid });
    return seen(c, (f) => (f.type === 'ack' || f.type === 'error') && f.cid === cid, `answer to ${String(frame.type)}`);
  };
  const auditOf = async (room: string) => {
    const res = await call(olga, 'GET', `/api/rooms/${room}/audit`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as Array<Record<string, unknown>>;
  };

  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '0', ADMINS: 'root' });
    root = await register(server.url, 'root');
    olga = await signInGuest(server.url, 'olga');
    mia = await signInGuest(server.url, 'mia');
    max = await signInGuest(server.url, 'max');
    sam = await signInGuest(server.url, 'sam');
    ben = await signInGuest(server.url, 'ben');
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await server.close();
  });

  describe('roles', () => {
    it('the owner makes a moderator over WebSocket and back over HTTP; the room is told, the welcome and the list say so', async () => {
      const room = `m${++rooms}`;
      assert.equal((await call(olga, 'POST', '/api/rooms', { name: room })).status, 201);
      const o = await joined(olga, room);
      const b = await joined(ben, room);
      const ack = await ask(o, { type: 'role', room, user: ben.user.id, role: 'moderator' });
      assert.equal(ack.type, 'ack', JSON.stringify(ack));
      assert.equal(ack.id, 0);
      const told = await b.next('moderation');
      assert.deepEqual({ ...told, ts: 0 }, { type: 'moderation', room, action: 'role', user: who(ben), by: who(olga), role: 'moderator', ts: 0 });
      const again = await connect(ben);
      const welcome = again.frames[0]!;
      assert.deepEqual(welcome.roles, { [room]: 'moderator' });
      again.send({ type: 'join', room });
      const list = await again.next('list');
      assert.deepEqual(list.roles, { [olga.user.id]: 'owner', [ben.user.id]: 'moderator' });
      assert.deepEqual((await connect(olga)).frames[0]!.roles?.[room as never], 'owner');
      const back = await call(olga, 'PUT', `/api/rooms/${room}/roles/${ben.user.id}`, { role: 'member' });
      assert.equal(back.status, 200);
      assert.deepEqual(back.body.role, 'member');
      assert.equal((await b.next('moderation', (f) => f.role === 'member')).action, 'role');
      assert.equal((await connect(ben)).frames[0]!.roles, undefined);
      assert.deepEqual((await connect(root)).frames[0]!.admin, true);
      // Everyone is told who the admins are, so a page can mark them and offer no action on them.
      const benWelcome = (await connect(ben)).frames[0]!;
      assert.deepEqual(benWelcome.admins, ['root']);
      assert.equal(benWelcome.admin, undefined);
    });

    it('refuses a role that is not moderator or member, and a guest named in ADMINS is no admin', async () => {
      const room = await setUp();
      const bad = await call(olga, 'PUT', `/api/rooms/${room}/roles/${ben.user.id}`, { role: 'owner' });
      assert.equal(bad.status, 400);
      const other = await startTestServer({ ADMINS: 'boss' });
      try {
        const boss = await signInGuest(other.url, 'boss');
        const c = await ChatClient.connect(other.wsUrl, boss.token);
        assert.equal(c.frames[0]!.admin, undefined);
        await c.close();
        const res = await api(other.url, 'POST', `/api/users/${boss.user.id + 100}/ban`, boss.token);
        assert.equal(res.status, 403);
      } finally {
        await other.close();
      }
    });
  });

  describe('kick', () => {
    it('over WebSocket: the user leaves the room now and is told; the room is told; they may join a public room again', async () => {
      const room = await setUp();
      const m = await joined(mia, room);
      const s = await joined(sam, room);
      const b = await joined(ben, room);
      assert.equal((await ask(m, { type: 'kick', room, user: sam.user.id })).type, 'ack');
      assert.deepEqual(await s.next('kicked'), { type: 'kicked', room, by: who(mia) });
      assert.deepEqual((await seen(b, (f) => f.type === 'left' && f.room === room)).user, who(sam));
      assert.equal((await seen(b, (f) => f.type === 'moderation')).action, 'kick');
      assert.equal(s.all('moderation').length, 0, 'the kicked user gets kicked, not moderation');
      // No longer subscribed: the room's messages do not reach them.
      b.send({ type: 'chat', room, data: 'after the kick', cid: 'k1' });
      await b.next('ack', (f) => f.cid === 'k1');
      s.send({ type: 'join', room });
      const list = await s.next('list');
      assert.ok((list.data as Frame[]).some((u) => u.id === sam.user.id));
      assert.ok(!s.frames.some((f) => f.type === 'chat' && f.data === 'after the kick' && s.frames.indexOf(f) < s.frames.indexOf(list)));
    });

    it('over HTTP from a private room: the membership is withdrawn, so they cannot come back', async () => {
      const room = await setUp(true);
      const s = await joined(sam, room);
      const res = await call(mia, 'DELETE', `/api/rooms/${room}/members/${sam.user.id}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.action, 'kick');
      await s.next('kicked');
      s.send({ type: 'join', room });
      assert.equal((await s.next('error')).code, 'not_found');
      s.send({ type: 'chat', room, data: 'still here?', cid: 'x' });
      assert.equal((await s.next('error', (f) => f.cid === 'x')).code, 'not_found');
      assert.equal((await call(sam, 'GET', `/api/rooms/${room}/messages`)).status, 404);
    });
  });

  describe('a retried action (its cid again, as the SDK resends what was not acked after a reconnect)', () => {
    it('is acked as the first was, and applied, logged and announced once: a kick does not kick again the user who came back', async () => {
      const room = await setUp();
      const m = await joined(mia, room);
      const s = await joined(sam, room);
      const b = await joined(ben, room);
      const kick = { type: 'kick', room, user: sam.user.id, cid: 'retry-kick' };
      m.send(kick);
      const first = await m.next('ack', (f) => f.cid === 'retry-kick');
      await s.next('kicked');
      s.send({ type: 'join', room });
      await s.next('list', (f) => f.room === room);
      // The moderator's page lost its connection before it saw the ack, and sends the kick again.
      const m2 = await joined(mia, room);
      m2.send(kick);
      const second = await m2.next('ack', (f) => f.cid === 'retry-kick');
      assert.equal(second.ts, first.ts);
      b.send({ type: 'chat', room, data: 'after the retry', cid: 'r1' });
      await s.next('chat', (f) => f.data === 'after the retry');
      assert.equal(s.all('kicked').length, 1, 'kicked once');
      assert.equal(b.all('moderation').filter((f) => f.action === 'kick').length, 1, 'the room is told once');
      // An unban and a role retried after they were applied are acked, not refused as nothing to do.
      const o = await joined(olga, room);
      for (const [c, frame] of [
        [m2, { type: 'ban', room, user: sam.user.id, minutes: 5, cid: 'retry-ban' }],
        [m2, { type: 'unban', room, user: sam.user.id, cid: 'retry-unban' }],
        [o, { type: 'role', room, user: ben.user.id, role: 'moderator', cid: 'retry-role' }],
      ] as const) {
        c.send(frame);
        const ack = await c.next('ack', (f) => f.cid === frame.cid);
        c.send(frame);
        const again = await seen(c, (f) => f.cid === frame.cid && c.frames.indexOf(f) > c.frames.indexOf(ack), `second answer to ${frame.type}`);
        assert.deepEqual([again.type, again.ts], ['ack', ack.ts], JSON.stringify(again));
      }
      assert.deepEqual(
        (await auditOf(room)).map((e) => e.action),
        ['role', 'unban', 'ban', 'kick', 'role', 'role'],
        'each logged once (the last two: mia and max made moderators)',
      );
    });
  });

  describe('ban', () => {
    it('over WebSocket for some minutes: the user leaves and is told until when; every way in is refused with banned', async () => {
      const room = await setUp();
      await call(olga, 'POST', `/api/rooms/${room}/messages`, { data: 'findable words here' });
      const m = await joined(mia, room);
      const s = await joined(sam, room);
      const idle = await connect(sam); // another tab, not in the room
      const before = Date.now();
      assert.equal((await ask(m, { type: 'ban', room, user: sam.user.id, minutes: 30 })).type, 'ack');
      const banned = await s.next('banned');
      assert.equal(banned.room, room);
      assert.deepEqual(banned.by, who(mia));
      assert.ok((banned.until as number) >= before + 30 * 60_000 && (banned.until as number) <= Date.now() + 30 * 60_000);
      await idle.next('banned');
      const moderation = await seen(m, (f) => f.type === 'moderation');
      assert.deepEqual({ action: moderation.action, user: moderation.user, until: moderation.until }, { action: 'ban', user: who(sam), until: banned.until });

      // Every way in, on the open connection, a new one (the same token), and HTTP.
      const fresh = await connect(sam);
      assert.deepEqual(fresh.frames[0]!.banned, { [room]: banned.until });
      assert.deepEqual(fresh.frames[0]!.bannedBy, { [room]: who(mia) }, 'so that a reloaded page says by whom');
      for (const c of [s, fresh]) {
        const refused = async (frame: Record<string, unknown>) => {
          c.send({ ...frame, cid: undefined, rid: 'r' });
          const error = await c.next('error', (f) => f.room === room || f.rid === 'r');
          assert.equal(error.code, 'banned', `${frame.type}: ${JSON.stringify(error)}`);
        };
        await refused({ type: 'join', room });
        await refused({ type: 'history', room });
        await refused({ type: 'chat', room, data: 'let me in' });
        await refused({ type: 'react', room, target: 1, emoji: '👍' });
        await refused({ type: 'read', room, id: 1 });
        await refused({ type: 'typing', room });
        await refused({ type: 'search', q: 'findable', room });
      }
      fresh.send({ type: 'search', q: 'findable', rid: 's' });
      assert.deepEqual((await fresh.next('search')).data, [], 'no search hits in the room');
      for (const [method, path, body] of [
        ['GET', `/api/rooms/${room}/messages`],
        ['POST', `/api/rooms/${room}/messages`, { data: 'over HTTP' }],
        ['GET', `/api/search?q=findable&room=${room}`],
      ] as const) {
        const res = await call(sam, method, path, body);
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(res.body.error?.code, 'banned');
      }
      assert.deepEqual((await call(sam, 'GET', '/api/search?q=findable')).body.data, []);
      // Nothing of it was stored: the room still has one message.
      assert.equal(((await call(olga, 'GET', `/api/rooms/${room}/messages`)).body.data as unknown[]).length, 1);

      // Unbanned over HTTP: in again.
      const unban = await call(mia, 'DELETE', `/api/rooms/${room}/bans/${sam.user.id}`);
      assert.equal(unban.status, 200);
      s.send({ type: 'join', room });
      await s.next('list', (f) => f.room === room);
      assert.equal((await ask(s, { type: 'chat', room, data: 'sorry' })).type, 'ack');
      const again = await call(mia, 'DELETE', `/api/rooms/${room}/bans/${sam.user.id}`);
      assert.equal(again.status, 404, 'nothing to lift');
    });

    it('over HTTP until lifted, also from a private room; unban over WebSocket', async () => {
      const room = await setUp(true);
      const s = await joined(sam, room);
      const res = await call(olga, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.until, undefined);
      const banned = await s.next('banned');
      assert.equal(banned.until, undefined);
      s.send({ type: 'join', room });
      assert.equal((await s.next('error')).code, 'banned');
      const bad = await call(olga, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`, { minutes: 0 });
      assert.equal(bad.status, 400);
      const o = await connect(olga);
      assert.equal((await ask(o, { type: 'unban', room, user: sam.user.id })).type, 'ack');
      s.send({ type: 'join', room });
      await s.next('list', (f) => f.room === room);
    });
  });

  it('the list tells those who moderate the room who is banned from it now, by name and until when, however long the audit log; a member is not told', async () => {
    const room = await setUp();
    const zed = await signInGuest(server.url, 'zed');
    const m = await joined(mia, room);
    const before = Date.now();
    assert.equal((await ask(m, { type: 'ban', room, user: sam.user.id, minutes: 30 })).type, 'ack');
    const samUntil = (await seen(m, (f) => f.type === 'moderation' && f.action === 'ban')).until as number;
    assert.ok(samUntil >= before + 30 * 60_000);
    assert.equal((await call(olga, 'POST', `/api/rooms/${room}/bans/${zed.user.id}`)).status, 200);
    // A busy room: the bans fall out of the audit log's first page (100 entries).
    for (let i = 0; i < 55; i++) {
      assert.equal((await call(olga, 'POST', `/api/rooms/${room}/mutes/${ben.user.id}`)).status, 200);
      assert.equal((await call(olga, 'DELETE', `/api/rooms/${room}/mutes/${ben.user.id}`)).status, 200);
    }
    assert.ok(!(await auditOf(room)).some((e) => e.action === 'ban'), 'no ban on the audit log\'s first page');

    const bannedNow = [
      { user: who(sam), until: samUntil },
      { user: who(zed), until: null },
    ];
    for (const s of [olga, mia, root]) {
      const c = await connect(s);
      c.send({ type: 'join', room });
      assert.deepEqual((await c.next('list', (f) => f.room === room)).banned, bannedNow, `${s.user.name}'s list`);
      const res = await call(s, 'GET', `/api/rooms/${room}/bans`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.data, bannedNow, `${s.user.name} over HTTP`);
    }
    const member = await connect(ben);
    member.send({ type: 'join', room });
    assert.equal((await member.next('list', (f) => f.room === room)).banned, undefined, 'a member is not told');
    const refused = await call(ben, 'GET', `/api/rooms/${room}/bans`);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error?.code, 'forbidden');
    assert.equal((await call(ben, 'GET', '/api/rooms/nowhere/bans')).status, 404);

    // Lifted: the moderators in the room are told at once, and the next list no longer names sam.
    assert.equal((await call(olga, 'DELETE', `/api/rooms/${room}/bans/${sam.user.id}`)).status, 200);
    await seen(m, (f) => f.type === 'moderation' && f.action === 'unban');
    const o = await connect(olga);
    o.send({ type: 'join', room });
    assert.deepEqual((await o.next('list', (f) => f.room === room)).banned, [{ user: who(zed), until: null }]);
    assert.deepEqual((await call(olga, 'GET', `/api/rooms/${room}/bans`)).body.data, [{ user: who(zed), until: null }]);
  });

  describe('mute', () => {
    it('over HTTP: the user still reads the room, every post is refused with muted; unmute over WebSocket', async () => {
      const room = await setUp();
      const s = await joined(sam, room);
      const o = await joined(olga, room);
      await ask(s, { type: 'chat', room, data: 'first' });
      const res = await call(mia, 'POST', `/api/rooms/${room}/mutes/${sam.user.id}`, { minutes: 10 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const told = await seen(s, (f) => f.type === 'moderation');
      assert.equal(told.action, 'mute');
      assert.equal(told.until, res.body.until);
      for (const frame of [
        { type: 'chat', room, data: 'spam' },
        { type: 'edit', room, target: 1, data: 'spam' },
        { type: 'react', room, target: 1, emoji: '👍' },
      ]) {
        const answer = await ask(s, frame);
        assert.equal(answer.code, 'muted', `${frame.type}: ${JSON.stringify(answer)}`);
      }
      const post = await call(sam, 'POST', `/api/rooms/${room}/messages`, { data: 'spam' });
      assert.equal(post.status, 403);
      assert.equal(post.body.error?.code, 'muted');
      // Reading still works, and a list says who is muted.
      s.send({ type: 'history', room });
      assert.equal(((await s.next('history')).data as Frame[]).length, 1);
      assert.equal((await call(sam, 'GET', `/api/rooms/${room}/messages`)).status, 200);
      const other = await joined(ben, room);
      assert.deepEqual(other.all('list').at(-1)!.muted, { [sam.user.id]: res.body.until });
      const again = (await connect(sam)).frames[0]!;
      assert.deepEqual([again.muted, again.mutedBy], [{ [room]: res.body.until }, { [room]: who(mia) }]);
      // Their own message they may still take down.
      assert.equal((await ask(s, { type: 'delete', room, target: 1 })).type, 'ack');
      assert.equal((await ask(o, { type: 'unmute', room, user: sam.user.id })).type, 'ack');
      assert.equal((await ask(s, { type: 'chat', room, data: 'I will behave' })).type, 'ack');
    });
  });

  describe('delete of anyone\'s message', () => {
    it('by a moderator, the owner or an admin, logged as delete; by a member, forbidden', async () => {
      const room = await setUp();
      const s = await joined(sam, room);
      for (let i = 1; i <= 3; i++) await ask(s, { type: 'chat', room, data: `spam ${i}` });
      const b = await joined(ben, room);
      assert.equal((await ask(b, { type: 'delete', room, target: 1 })).code, 'forbidden');
      for (const [mod, target] of [[mia, 1], [olga, 2], [root, 3]] as const) {
        const c = await joined(mod, room);
        const ack = await ask(c, { type: 'delete', room, target });
        assert.equal(ack.type, 'ack', JSON.stringify(ack));
        const event = await seen(b, (f) => f.type === 'delete' && f.target === target);
        assert.deepEqual(event.user, who(mod));
      }
      const history = await call(ben, 'GET', `/api/rooms/${room}/messages`);
      assert.deepEqual((history.body.data as Frame[]).map((m) => [m.data, m.deleted]), [['', true], ['', true], ['', true]]);
      const audit = await auditOf(room);
      assert.deepEqual(audit.filter((e) => e.action === 'delete').map((e) => [e.user, e.by]), [
        [who(sam), who(root)],
        [who(sam), who(olga)],
        [who(sam), who(mia)],
      ]);
      assert.equal((await seen(b, (f) => f.type === 'moderation' && f.action === 'delete')).type, 'moderation');
    });
  });

  describe('the audit log', () => {
    it('lists every action newest first for moderators, owner and admins; a member is refused', async () => {
      const room = await setUp();
      await call(mia, 'POST', `/api/rooms/${room}/mutes/${sam.user.id}`, { minutes: 5 });
      await call(mia, 'DELETE', `/api/rooms/${room}/mutes/${sam.user.id}`);
      await call(mia, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`);
      await call(mia, 'DELETE', `/api/rooms/${room}/members/${ben.user.id}`);
      const audit = await auditOf(room);
      assert.deepEqual(audit.map((e) => [e.action, (e.user as { name: string }).name, (e.by as { name: string }).name]), [
        ['kick', 'ben', 'mia'],
        ['ban', 'sam', 'mia'],
        ['unmute', 'sam', 'mia'],
        ['mute', 'sam', 'mia'],
        ['role', 'max', 'olga'],
        ['role', 'mia', 'olga'],
      ]);
      assert.equal(typeof audit[0]!.ts, 'number');
      assert.equal(typeof audit[3]!.until, 'number');
      for (const s of [mia, root]) assert.equal((await call(s, 'GET', `/api/rooms/${room}/audit?limit=2`)).body.data && ((await call(s, 'GET', `/api/rooms/${room}/audit?limit=2`)).body.data as unknown[]).length, 2);
      const refused = await call(ben, 'GET', `/api/rooms/${room}/audit`);
      assert.equal(refused.status, 403);
      assert.match(refused.body.error!.message, /you do not moderate/);
    });
  });

  describe('limits on power: refused with forbidden, saying why, changing nothing', () => {
    const cases: Array<[string, () => SignedIn, (room: string) => Record<string, unknown>, RegExp]> = [
      ['a member acts', () => ben, (room) => ({ type: 'kick', room, user: sam.user.id }), /you do not moderate/],
      ['a moderator kicks the owner', () => mia, (room) => ({ type: 'kick', room, user: olga.user.id }), /owns .*only an admin/],
      ['a moderator bans an admin', () => mia, (room) => ({ type: 'ban', room, user: root.user.id }), /admin: nobody can/],
      ['the owner mutes an admin', () => olga, (room) => ({ type: 'mute', room, user: root.user.id }), /admin: nobody can/],
      ['a moderator mutes another moderator', () => mia, (room) => ({ type: 'mute', room, user: max.user.id }), /moderator .*only its owner or an admin/],
      ['a moderator gives a role', () => mia, (room) => ({ type: 'role', room, user: ben.user.id, role: 'moderator' }), /only the owner .* or an admin gives roles/],
      ['someone acts on themselves', () => mia, (room) => ({ type: 'ban', room, user: mia.user.id }), /yourself/],
      ['an admin changes the owner\'s role', () => root, (room) => ({ type: 'role', room, user: olga.user.id, role: 'member' }), /owns .*the owner's role cannot be changed/],
      ['a moderator acts in a room they do not moderate', () => mia, () => ({ type: 'kick', room: 'elsewhere', user: sam.user.id }), /you do not moderate "elsewhere"/],
    ];
    const path: Record<string, (room: string, user: number) => [string, string, unknown?]> = {
      kick: (room, user) => ['DELETE', `/api/rooms/${room}/members/${user}`],
      ban: (room, user) => ['POST', `/api/rooms/${room}/bans/${user}`],
      mute: (room, user) => ['POST', `/api/rooms/${room}/mutes/${user}`],
      role: (room, user) => ['PUT', `/api/rooms/${room}/roles/${user}`, { role: 'moderator' }],
    };

    before(async () => {
      if ((await call(olga, 'POST', '/api/rooms', { name: 'elsewhere' })).status !== 201) throw new Error('no room elsewhere');
    });

    for (const [what, actor, frame, why] of cases) {
      it(`${what}: over WebSocket and over HTTP`, async () => {
        const room = await setUp();
        const auditBefore = await auditOf(room);
        const c = await joined(actor(), room);
        const f = frame(room);
        const refusal = await ask(c, f);
        assert.equal(refusal.code, 'forbidden', JSON.stringify(refusal));
        assert.match(refusal.message as string, why);
        const [method, url, body] = path[f.type as string]!(f.room as string, f.user as number);
        const res = await call(actor(), method, url, body);
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.error?.code, 'forbidden');
        assert.match(res.body.error!.message, why);
        assert.deepEqual(await auditOf(room), auditBefore, 'nothing logged');
        // The target is untouched: still in, not muted.
        const target = [sam, olga, root, max, ben, mia].find((s) => s.user.id === f.user)!;
        const t = await joined(target, room);
        assert.equal((await ask(t, { type: 'chat', room, data: 'still here' })).type, 'ack');
      });
    }

    it('the owner may act on a moderator, and an admin on the owner', async () => {
      const room = await setUp();
      assert.equal((await call(olga, 'POST', `/api/rooms/${room}/mutes/${max.user.id}`)).status, 200);
      assert.equal((await call(root, 'POST', `/api/rooms/${room}/mutes/${olga.user.id}`)).status, 200);
      assert.equal((await call(root, 'PUT', `/api/rooms/${room}/roles/${ben.user.id}`, { role: 'moderator' })).status, 200);
    });

    it('a direct conversation has no moderators, and an admin moderates a private room they are not in', async () => {
      const o = await connect(olga);
      o.send({ type: 'dm', to: sam.user.id, data: 'hi', cid: 'dm1' });
      const ack = await o.next('ack', (f) => f.cid === 'dm1');
      const refusal = await ask(o, { type: 'ban', room: ack.room, user: sam.user.id });
      assert.equal(refusal.code, 'forbidden');
      assert.match(refusal.message as string, /direct conversation has no moderators/);
      const admin = await call(root, 'POST', `/api/rooms/${ack.room as string}/mutes/${sam.user.id}`);
      assert.equal(admin.status, 403);
      const room = await setUp(true);
      assert.equal((await call(root, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`)).status, 200);
      assert.equal((await call(ben, 'GET', `/api/rooms/${room}/audit`)).status, 403);
      // Someone not in the private room learns nothing of it.
      const outsider = await signInGuest(server.url, 'outsider');
      assert.equal((await call(outsider, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`)).status, 404);
    });

    it('a moderator or the owner banned from the room moderates it no more, over WebSocket and HTTP, until unbanned', async () => {
      const room = await setUp();
      assert.equal((await call(olga, 'POST', `/api/rooms/${room}/bans/${mia.user.id}`)).status, 200);
      assert.equal((await call(root, 'POST', `/api/rooms/${room}/bans/${olga.user.id}`)).status, 200);
      const auditBefore = await call(root, 'GET', `/api/rooms/${room}/audit`);
      for (const [s, frame] of [
        [mia, { type: 'kick', room, user: ben.user.id }],
        [mia, { type: 'mute', room, user: sam.user.id }],
        [olga, { type: 'unban', room, user: mia.user.id }],
        [olga, { type: 'role', room, user: ben.user.id, role: 'moderator' }],
      ] as const) {
        const refusal = await ask(await connect(s), frame);
        assert.equal(refusal.code, 'banned', JSON.stringify(refusal));
        assert.match(refusal.message as string, /you are banned from/);
      }
      for (const [s, method, url] of [
        [mia, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`],
        [mia, 'GET', `/api/rooms/${room}/audit`],
        [olga, 'DELETE', `/api/rooms/${room}/bans/${mia.user.id}`],
      ] as const) {
        const res = await call(s, method, url);
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assert.equal(res.body.error?.code, 'banned');
      }
      assert.deepEqual(await call(root, 'GET', `/api/rooms/${room}/audit`), auditBefore, 'nothing logged');
      const b = await joined(ben, room);
      assert.equal((await ask(b, { type: 'chat', room, data: 'not kicked' })).type, 'ack');
      // Unbanned, the owner moderates again.
      assert.equal((await call(root, 'DELETE', `/api/rooms/${room}/bans/${olga.user.id}`)).status, 200);
      assert.equal((await call(olga, 'DELETE', `/api/rooms/${room}/bans/${mia.user.id}`)).status, 200);
    });

    it('unknown users and bad input are refused and change nothing', async () => {
      const room = await setUp();
      const m = await connect(mia);
      assert.equal((await ask(m, { type: 'kick', room, user: 999_999 })).code, 'not_found');
      assert.equal((await ask(m, { type: 'ban', room, user: sam.user.id, minutes: -1 })).code, 'bad_request');
      assert.equal((await ask(m, { type: 'role', room, user: sam.user.id, role: 'owner' })).code, 'bad_request');
      // A role the user has already: nothing to do, nothing logged (as an unban of someone not banned).
      const o = await connect(olga);
      const already = await ask(o, { type: 'role', room, user: mia.user.id, role: 'moderator' });
      assert.deepEqual([already.code, already.message], ['not_found', `mia is already a moderator of "${room}"`]);
      assert.equal((await ask(o, { type: 'role', room, user: sam.user.id, role: 'member' })).code, 'not_found');
      assert.equal((await call(olga, 'PUT', `/api/rooms/${room}/roles/${mia.user.id}`, { role: 'moderator' })).status, 404);
      // Too long a ban names the year, not the bound of safe integers that a huge number also passes.
      const huge = await ask(m, { type: 'ban', room, user: sam.user.id, minutes: 1e308 });
      assert.equal(huge.message, 'minutes must be at most 525600 (a year)');
      const hugeHttp = await call(mia, 'POST', `/api/rooms/${room}/bans/${sam.user.id}`, { minutes: 1e308 });
      assert.equal(hugeHttp.body.error?.message, 'minutes must be at most 525600 (a year)');
      assert.equal((await call(mia, 'POST', `/api/rooms/${room}/bans/abc`)).status, 400);
      assert.equal((await call(mia, 'POST', `/api/rooms/${room}/mutes/${sam.user.id}`, { minutes: 'ten' })).status, 400);
      assert.equal((await call(mia, 'POST', `/api/rooms/nowhere/bans/${sam.user.id}`)).status, 404);
      assert.equal((await auditOf(room)).length, 2, 'the two roles of setUp only');
    });
  });

  it('the rate limit counts moderation frames', async () => {
    const limited = await startTestServer({ RATE_LIMIT: '1' });
    try {
      const owner = await signInGuest(limited.url, 'owner');
      const target = await signInGuest(limited.url, 'target');
      assert.equal((await api(limited.url, 'POST', '/api/rooms', owner.token, { name: 'r' })).status, 201);
      const c = await ChatClient.connect(limited.wsUrl, owner.token);
      for (let i = 0; i < 6; i++) c.send({ type: i % 2 ? 'unmute' : 'mute', room: 'r', user: target.user.id, cid: `m${i}` });
      assert.equal((await c.next('error', (f) => f.code === 'rate_limited')).code, 'rate_limited');
      await c.close();
    } finally {
      await limited.close();
    }
  });

  describe('a ban everywhere', () => {
    it('closes every connection of the user with 4003; their token, sign-in and name stop working', async () => {
      const eve = await register(server.url, 'eve');
      const tabs = [await connect(eve), await connect(eve)];
      const refused = await call(mia, 'POST', `/api/users/${eve.user.id}/ban`);
      assert.equal(refused.status, 403, 'only an admin');
      assert.equal((await call(root, 'POST', `/api/users/${root.user.id}/ban`)).status, 403);
      const res = await call(root, 'POST', `/api/users/${eve.user.id}/ban`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(await Promise.all(tabs.map((t) => t.closed)), [4003, 4003]);
      assert.equal((await call(eve, 'GET', '/api/me')).status, 401);
      assert.equal(await upgradeStatus(`${server.wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${eve.token}` } }), 401);
      const login = await fetch(`${server.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'eve', password: 'correct horse battery' }),
      });
      assert.equal(login.status, 403);
      assert.equal(((await login.json()) as Answer['body']).error?.code, 'banned');
      const asGuest = await fetch(`${server.url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Eve' }) });
      assert.ok(asGuest.status === 403 || asGuest.status === 409, `a guest cannot take the name: ${asGuest.status}`);
      // A banned guest's name is kept from guests too.
      const g = await signInGuest(server.url, 'troll');
      assert.equal((await call(root, 'POST', `/api/users/${g.user.id}/ban`)).status, 200);
      const trollAgain = await fetch(`${server.url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'TROLL' }) });
      assert.equal(trollAgain.status, 403);
      // Lifted: eve signs in again.
      assert.equal((await call(root, 'DELETE', `/api/users/${eve.user.id}/ban`)).status, 200);
      const back = await fetch(`${server.url}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'eve', password: 'correct horse battery' }),
      });
      assert.equal(back.status, 200);
    });
  });
});

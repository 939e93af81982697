/**
 * Read markers and mentions over real sockets: a read marker reaches the user's other connections
 * and the next welcome; an @name reaches the user it names on every connection of theirs, and
 * nobody who cannot read the room, nor the sender.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChatClient, signInGuest, type Frame, type SignedIn } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function post(url: string, token: string | undefined, body: object): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  assert.ok(res.status < 300, `${url} answered ${res.status}: ${await res.clone().text()}`);
  return (await res.json()) as Record<string, unknown>;
}

describe('read markers and mentions', () => {
  let server: TestServer;
  const open: ChatClient[] = [];
  const connect = async (who: SignedIn) => {
    const c = await ChatClient.connect(server.wsUrl, who.token);
    open.push(c);
    return c;
  };
  const register = (name: string) => post(`${server.url}/api/register`, undefined, { name, password: 'correct horse battery' }) as Promise<unknown> as Promise<SignedIn>;
  /** Lets frames already on their way arrive, so a test can say that one did not come. */
  const settle = () => new Promise((r) => setTimeout(r, 200));

  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '0' });
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await server.close();
  });

  it('tells the user\'s other connections how far they read, keeps the highest, and welcomes with it', async () => {
    const ann = await signInGuest(server.url, 'reader');
    const tab1 = await connect(ann);
    const tab2 = await connect(ann);
    for (let i = 0; i < 3; i++) tab1.send({ type: 'chat', room: 'lobby', data: `m${i}`, cid: `m${i}` });
    const last = await tab1.next('ack', (f) => f.cid === 'm2');
    tab1.send({ type: 'read', room: 'lobby', id: last.id });
    assert.deepEqual(await tab2.next('read'), { type: 'read', room: 'lobby', id: last.id });
    tab2.send({ type: 'read', room: 'lobby', id: (last.id as number) - 1 });
    tab2.send({ type: 'read', room: 'lobby', id: 10_000 });
    // Beyond the room's newest id it stops there: nothing new to tell.
    tab2.send({ type: 'history', room: 'lobby', limit: 1, rid: 'sync' });
    await tab2.next('history');
    await settle();
    assert.deepEqual(tab1.all('read'), [], 'the connection that read is not told; a lower or equal marker is no news');
    const tab3 = await connect(ann);
    assert.deepEqual((tab3.frames[0]!.read as Record<string, number>).lobby, last.id);
    tab3.send({ type: 'read', room: 'nowhere', id: 1 });
    assert.equal((await tab3.next('error')).code, 'not_found');
  });

  it('keeps a private room\'s read marker to its members', async () => {
    const owner = await register('owner1');
    const other = await signInGuest(server.url, 'outsider');
    await post(`${server.url}/api/rooms`, owner.token, { name: 'hush', private: true });
    const o = await connect(owner);
    o.send({ type: 'chat', room: 'hush', data: 'x', cid: 'x' });
    await o.next('ack');
    const c = await connect(other);
    c.send({ type: 'read', room: 'hush', id: 1 });
    assert.equal((await c.next('error')).code, 'not_found');
    assert.equal(((await connect(other)).frames[0]!.read as Record<string, number>).hush, undefined);
  });

  it('tells a user named with @name on each of their connections, joined or not, and marks the message', async () => {
    const ann = await register('Ann');
    const bob = await register('Bob Stone');
    const b1 = await connect(bob);
    const b2 = await connect(bob);
    b1.send({ type: 'join', room: 'lobby' });
    await b1.next('list');
    const a = await connect(ann);
    a.send({ type: 'chat', room: 'lobby', data: 'hi @bob stone, and @Ann herself', cid: 'hi' });
    const ack = await a.next('ack', (f) => f.cid === 'hi');
    const mention = { type: 'mention', room: 'lobby', id: ack.id, user: { id: ann.user.id, name: 'Ann' } };
    const chat = await b1.next('chat', (f) => f.id === ack.id);
    assert.deepEqual(chat.mentions, [bob.user.id], 'the sender is not among those it names');
    assert.deepEqual(await b1.next('mention'), mention);
    assert.deepEqual(await b2.next('mention'), mention, 'a connection not in the room hears of it too');
    await settle();
    assert.deepEqual(a.all('mention'), []);
    a.send({ type: 'history', room: 'lobby', limit: 1 });
    assert.deepEqual(((await a.next('history')).data as Frame[])[0]!.mentions, [bob.user.id]);
  });

  it('resolves the longest name, registered users and those present, and no e-mail address', async () => {
    const ann = await register('annie');
    const annB = await register('annie b');
    const guestHere = await signInGuest(server.url, 'visitor');
    const guestAway = await signInGuest(server.url, 'wanderer');
    const [a, ab, gh, ga] = await Promise.all([ann, annB, guestHere, guestAway].map(connect));
    gh!.send({ type: 'join', room: 'lobby' });
    await gh!.next('list');
    const sender = await connect(await signInGuest(server.url, 'sender'));
    sender.send({ type: 'chat', room: 'lobby', data: '@annie b: ping @visitor @wanderer mail annie@example.com', cid: 'p' });
    const ack = await sender.next('ack');
    assert.equal((await ab!.next('mention')).id, ack.id);
    assert.equal((await gh!.next('mention')).id, ack.id, 'a guest in the room now');
    await settle();
    assert.deepEqual(a!.all('mention'), [], '"annie b" is the longer name, and "annie@" is no mention');
    assert.deepEqual(ga!.all('mention'), [], 'a guest who is not in the room is not a user of it');
  });

  it('names only members in a private room, and in a DM', async () => {
    const owner = await register('keeper');
    const member = await register('insider');
    const outsider = await register('snoop');
    await post(`${server.url}/api/rooms`, owner.token, { name: 'vault', private: true });
    await post(`${server.url}/api/rooms/vault/members`, owner.token, { user: member.user.id });
    const [o, m, s] = await Promise.all([owner, member, outsider].map(connect));
    o!.send({ type: 'chat', room: 'vault', data: '@insider @snoop look', cid: 'v' });
    const ack = await o!.next('ack');
    assert.deepEqual(await m!.next('mention'), { type: 'mention', room: 'vault', id: ack.id, user: { id: owner.user.id, name: 'keeper' } });
    o!.send({ type: 'dm', to: member.user.id, data: 'psst @insider', cid: 'dm' });
    const dm = await o!.next('ack', (f) => f.cid === 'dm');
    assert.equal((await m!.next('mention', (f) => f.room === dm.room)).id, dm.id);
    await settle();
    assert.deepEqual(s!.all('mention'), [], 'someone who cannot read the room is never told');
  });
});

/**
 * The SDK's moderation: kick, ban, mute, unmute and setRole acked; the kicked, banned and moderation
 * events; a refusal as a rejected promise; the HTTP helpers; and a ban everywhere stopping the client with 4003.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ParleyClient, ParleyError, createRoom, moderation, signIn, type ClientEvents, type Session } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

function once<K extends keyof ClientEvents>(client: ParleyClient, event: K): Promise<ClientEvents[K]> {
  return new Promise((resolve) => client.once(event, resolve));
}

describe('ParleyClient moderation', () => {
  let server: TestServer;
  let owner: Session;
  let sam: Session;
  let root: Session;
  const clients: ParleyClient[] = [];
  const connect = async (s: Session) => {
    const c = new ParleyClient({ url: server.url, token: s.token });
    clients.push(c);
    c.connect();
    await once(c, 'welcome');
    return c;
  };

  before(async () => {
    server = await startTestServer({ RATE_LIMIT: '0', ADMINS: 'root' });
    owner = await signIn.guest(server.url, 'owner');
    sam = await signIn.guest(server.url, 'sam');
    root = await signIn.register(server.url, 'root', 'the root password');
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });

  it('mutes, unmutes, gives a role and bans over WebSocket; the user hears of it and the client leaves the room', async () => {
    await createRoom(server.url, 'sdk-room', { token: owner.token });
    const o = await connect(owner);
    const s = await connect(sam);
    s.join('sdk-room');
    await once(s, 'list');
    const muted = once(s, 'moderation');
    assert.equal((await o.mute('sdk-room', sam.user.id, { minutes: 5 })).id, 0);
    const told = await muted;
    assert.equal(told.action, 'mute');
    assert.ok(told.until! > Date.now());
    await assert.rejects(s.send('sdk-room', 'spam'), (e: unknown) => e instanceof ParleyError && e.code === 'muted');
    await o.unmute('sdk-room', sam.user.id);
    await s.send('sdk-room', 'sorry');
    await o.setRole('sdk-room', sam.user.id, 'moderator');
    await o.setRole('sdk-room', sam.user.id, 'member');
    const banned = once(s, 'banned');
    await o.ban('sdk-room', sam.user.id);
    assert.deepEqual(await banned, { room: 'sdk-room', by: { id: owner.user.id, name: 'owner', guest: true } });
    await assert.rejects(s.send('sdk-room', 'let me in'), (e: unknown) => e instanceof ParleyError && e.code === 'banned');
    await assert.rejects(s.history('sdk-room'), (e: unknown) => e instanceof ParleyError && e.code === 'banned');
    await assert.rejects(s.ban('sdk-room', owner.user.id), (e: unknown) => e instanceof ParleyError && e.code === 'forbidden');
    await o.unban('sdk-room', sam.user.id);
    const kicked = once(s, 'kicked');
    s.join('sdk-room');
    await once(s, 'list');
    await o.kick('sdk-room', sam.user.id);
    assert.equal((await kicked).room, 'sdk-room');
  });

  it('has HTTP helpers for every action and the audit log, and stops with 4003 when banned everywhere', async () => {
    await createRoom(server.url, 'http-room', { token: owner.token });
    const mute = await moderation.mute(server.url, 'http-room', sam.user.id, { minutes: 1, token: owner.token });
    assert.equal(mute.action, 'mute');
    await moderation.unmute(server.url, 'http-room', sam.user.id, owner.token);
    await moderation.ban(server.url, 'http-room', sam.user.id, { token: owner.token });
    await moderation.unban(server.url, 'http-room', sam.user.id, owner.token);
    await moderation.setRole(server.url, 'http-room', sam.user.id, 'moderator', owner.token);
    await moderation.kick(server.url, 'http-room', root.user.id, root.token).then(
      () => assert.fail('nobody acts on themselves'),
      (e: { status: number; code: string }) => assert.deepEqual([e.status, e.code], [403, 'forbidden']),
    );
    const audit = await moderation.audit(server.url, 'http-room', { token: owner.token, limit: 10 });
    assert.deepEqual(audit.map((e) => e.action), ['role', 'unban', 'ban', 'unmute', 'mute']);
    const s = await connect(sam);
    const closed = once(s, 'closed');
    assert.equal((await moderation.banEverywhere(server.url, sam.user.id, true, root.token)).id, sam.user.id);
    assert.equal((await closed).code, 4003);
  });
});

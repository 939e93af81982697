/**
 * `parley admin` against the real server: an admin bans a user from the whole server by name or
 * id (their connection closes with 4003, their token stops working) and lifts it; others may not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signIn } from '../../src/client/index.js';
import { ChatClient, signInGuest } from '../helpers/chat-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from './cli-helpers.js';

describe('parley admin', () => {
  let server: TestServer;
  const admin = (args: string[], password = 'the root password') => runCli(['admin', server.url, ...args], '', 30_000, { PARLEY_PASSWORD: password });

  before(async () => {
    server = await startTestServer({ ADMINS: 'root' });
    await signIn.register(server.url, 'root', 'the root password');
  });
  after(async () => {
    await server.close();
  });

  it('bans a user everywhere by name: their connection closes with 4003 and their token is refused; unban lets them back', async () => {
    const spammer = await signInGuest(server.url, 'spammer');
    const conn = await ChatClient.connect(server.wsUrl, spammer.token);
    const banned = await admin(['ban', 'spammer', '--name', 'root']);
    assert.equal(banned.code, 0, banned.stderr);
    assert.equal(banned.stdout.trim(), `banned spammer (id ${spammer.user.id}) everywhere: their connections are closed and their sessions ended`);
    assert.equal(await conn.closed, 4003);
    const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${spammer.token}` } });
    assert.equal(me.status, 401, 'the old token is refused');
    const again = await fetch(`${server.url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"spammer"}' });
    assert.deepEqual([again.status, ((await again.json()) as { error: { code: string } }).error.code], [403, 'banned'], 'the name is not for guests any more');

    const lifted = await admin(['unban', String(spammer.user.id), '--name', 'root']);
    assert.equal(lifted.code, 0, lifted.stderr);
    assert.equal(lifted.stdout.trim(), `lifted the ban of spammer (id ${spammer.user.id}): they may sign in again`);
    assert.equal((await signInGuest(server.url, 'spammer')).user.name, 'spammer');
  });

  it('asks for the id when guests share the name, and takes it', async () => {
    const twins = [await signInGuest(server.url, 'twin'), await signInGuest(server.url, 'twin')];
    const ambiguous = await admin(['ban', 'twin', '--name', 'root']);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, new RegExp(`2 users are named twin \\(id ${twins[0]!.user.id}, a guest; id ${twins[1]!.user.id}, a guest\\): give the id`));
    const byId = await admin(['ban', String(twins[1]!.user.id), '--name', 'root']);
    assert.equal(byId.code, 0, byId.stderr);
    const me = (token: string) => fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    assert.deepEqual([await me(twins[0]!.token), await me(twins[1]!.token)], [200, 401], 'only the one named by id');
  });

  it('refuses whoever is not an admin, an unknown user, a wrong password and bad usage, and changes nothing', async () => {
    await signIn.register(server.url, 'bob', 'bobs password!');
    const target = await signInGuest(server.url, 'target');
    const notAdmin = await admin(['ban', 'target', '--name', 'bob'], 'bobs password!');
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /cannot ban target: .*\(403 forbidden\)/);
    const wrongPassword = await admin(['ban', 'target', '--name', 'root'], 'not the password');
    assert.equal(wrongPassword.code, 1);
    assert.match(wrongPassword.stderr, /cannot ban target: .*\(401 /);
    const unknown = await admin(['ban', 'nobody-at-all', '--name', 'root']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no user named nobody-at-all/);
    const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${target.token}` } });
    assert.equal(me.status, 200, 'the target was not banned');
    for (const args of [['kick', 'target'], ['ban'], ['ban', 'a', 'b'], ['ban', 'target']]) {
      const usage = await runCli(['admin', server.url, ...args], '', 30_000, { PARLEY_PASSWORD: '' });
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
      assert.match(usage.stderr, /^parley admin: /);
    }
  });
});

/** `parley chat` moderation commands as a process against the real server, scripted with --json. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestServer } from '../helpers/server.js';
import { JsonChat } from './cli-helpers.js';

describe('parley chat moderation', () => {
  it('ops, mutes, kicks and bans from the current room, and shows what the others did', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const res = await fetch(`${server.url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"olga"}' });
    const { token } = (await res.json()) as { token: string };
    const made = await fetch(`${server.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'den' }),
    });
    assert.equal(made.status, 201);
    const olga = new JsonChat([server.url, '--token', token, '--room', 'den']);
    const sam = new JsonChat([server.url, '--name', 'sam', '--room', 'den']);
    try {
      await sam.waitFor((e) => e.type === 'list', 'sam in den');
      // Sam is in olga's list, or joins after it.
      const isSam = (u: unknown) => (u as { name: string }).name === 'sam';
      await olga.waitFor((e) => (e.type === 'list' && (e.data as unknown[]).some(isSam)) || (e.type === 'join' && isSam(e.user)), 'olga sees sam');
      sam.send('/kick olga');
      const refused = await sam.waitFor((e) => e.type === 'error' && e.code === 'forbidden', 'the refusal');
      assert.match(refused.message as string, /\/kick olga: .*you do not moderate "den"/);

      olga.send('/op sam');
      const op = await sam.waitFor((e) => e.type === 'moderation' && e.action === 'role', 'sam hears of the op');
      assert.equal(op.role, 'moderator');
      olga.send('/deop sam');
      await olga.waitFor((e) => e.type === 'moderated' && e.action === 'deop', 'the deop acked');
      olga.send('/mute sam 5');
      const mute = await sam.waitFor((e) => e.type === 'moderation' && e.action === 'mute', 'sam hears of the mute');
      assert.ok((mute.until as number) > Date.now());
      sam.send('spam');
      await sam.waitFor((e) => e.type === 'error' && e.code === 'muted', 'muted');
      olga.send('/unmute sam');
      await sam.waitFor((e) => e.type === 'moderation' && e.action === 'unmute', 'unmuted');
      olga.send('/kick sam');
      const kicked = await sam.waitFor((e) => e.type === 'kicked', 'kicked');
      assert.deepEqual(kicked.room, 'den');
      sam.send('/join lobby');
      await sam.waitFor((e) => e.type === 'list' && e.room === 'lobby', 'sam in lobby');
      olga.send('/ban sam 10');
      const banned = await sam.waitFor((e) => e.type === 'banned', 'banned');
      assert.ok((banned.until as number) > Date.now());
      olga.send('/ban');
      assert.match((await olga.waitFor((e) => e.type === 'error' && e.code === 'bad_command', 'usage')).message as string, /usage: \/ban USER \[MINUTES\]/);
      olga.send('/unban nobody-here');
      await olga.waitFor((e) => e.type === 'error' && e.code === 'unknown_user', 'no such user');
      assert.equal(await olga.end(), 0);
      assert.equal(await sam.end(), 0);
    } finally {
      olga.kill();
      sam.kill();
      await server.close();
    }
  });
});

/**
 * The SDK matches each answered request (history, search) to its answer and to an error about it by the
 * request's own id (rid): an error about something else of the same room never settles it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyClient, ParleyError, signIn } from '../../src/client/index.js';
import { startTestServer } from '../helpers/server.js';

describe('ParleyClient requests', () => {
  it('keeps a history call pending through a rate_limited error of the same room, and resolves it', async () => {
    // One message per second, bursts of two: the history and one typing pass, the next typing is refused.
    const server = await startTestServer({ RATE_LIMIT: '1' });
    const ann = await signIn.guest(server.url, 'ann');
    const client = new ParleyClient({ url: server.url, token: ann.token });
    try {
      client.connect();
      await new Promise((resolve) => client.once('welcome', resolve));
      const errors: string[] = [];
      client.on('error', (e) => errors.push(`${e.code} ${e.room}`));
      const page = client.history('lobby', { limit: 5 });
      client.typing('lobby');
      client.typing('lobby');
      const result = await page;
      assert.deepEqual(result, { data: [], more: false, lastId: 0 });
      assert.deepEqual(errors, ['rate_limited lobby'], 'the refusal is an error event, not the history answer');
    } finally {
      client.close();
      await server.close();
    }
  });

  it('rejects a history call with the error about it, and only that call', async () => {
    const server = await startTestServer();
    const ann = await signIn.guest(server.url, 'ann');
    const client = new ParleyClient({ url: server.url, token: ann.token });
    try {
      client.connect();
      const missing = client.history('nowhere');
      const lobby = client.history('lobby');
      await assert.rejects(missing, (e: unknown) => e instanceof ParleyError && e.code === 'not_found' && e.room === 'nowhere');
      assert.deepEqual(await lobby, { data: [], more: false, lastId: 0 });
    } finally {
      client.close();
      await server.close();
    }
  });

  it('searches, matching answers and refusals to each search by its own id', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const ann = await signIn.guest(server.url, 'ann');
    const client = new ParleyClient({ url: server.url, token: ann.token });
    try {
      client.connect();
      await client.send('lobby', '你好，大家好');
      await client.send('lobby', 'hello there');
      const [hello, chinese, refused] = await Promise.allSettled([
        client.search('hello'),
        client.search('好', { room: 'lobby', limit: 5 }),
        client.search('x', { room: 'nowhere' }),
      ]);
      assert.deepEqual(hello.status === 'fulfilled' && hello.value.data.map((m) => m.data), ['hello there']);
      assert.deepEqual(chinese.status === 'fulfilled' && [chinese.value.q, chinese.value.data.map((m) => m.data), chinese.value.more], ['好', ['你好，大家好'], false]);
      assert.ok(refused.status === 'rejected' && refused.reason instanceof ParleyError && refused.reason.code === 'not_found');
    } finally {
      client.close();
      await server.close();
    }
  });
});

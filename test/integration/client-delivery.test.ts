/**
 * The SDK against the real server: two clients keep sending while the server is SIGKILLed and
 * restarted, or while their TCP connections are cut; afterwards each client has delivered every
 * message of the room exactly once, in id order, and every send was acked exactly once.
 */
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ParleyClient, ParleyError, createRoom, fetchMessages, logout, signIn, type Ack, type ChatMessage } from '../../src/client/index.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { freePort, spawnServer, startTestServer, tempDataDir } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Writes the texts to lobby with a client of its own, so that no retry of an earlier send gets mixed in. */
async function writeToLobby(url: string, token: string, texts: string[]): Promise<void> {
  const writer = new ParleyClient({ url, token });
  writer.connect();
  try {
    for (const text of texts) await writer.send('lobby', text);
  } finally {
    writer.close();
  }
}

interface Sender {
  client: ParleyClient;
  delivered: ChatMessage[];
  texts: string[];
  acks: Ack[];
}

function track(client: ParleyClient, room: string): Sender {
  const s: Sender = { client, delivered: [], texts: [], acks: [] };
  client.on('chat', (m) => {
    if (m.room === room) s.delivered.push(m);
  });
  return s;
}

/** Sends `count` messages, one every `pauseMs`, without waiting for acks in between. */
async function keepSending(s: Sender, room: string, prefix: string, count: number, pauseMs: number): Promise<void> {
  const promises: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const text = `${prefix}-${i}`;
    s.texts.push(text);
    promises.push(s.client.send(room, text).then((ack) => void s.acks.push(ack)));
    await sleep(pauseMs);
  }
  await Promise.all(promises);
}

/** What a user checks afterwards: every message once, in id order, every send acked once. */
function assertExactlyOnce(senders: Sender[]): void {
  const allTexts = senders.flatMap((s) => s.texts);
  const total = allTexts.length;
  const ids = Array.from({ length: total }, (_, i) => i + 1);
  for (const s of senders) {
    assert.deepEqual(
      s.delivered.map((m) => m.id),
      ids,
      `${s.client.user?.name} delivered ids 1..${total} once each, in order`,
    );
    assert.deepEqual(
      s.delivered.map((m) => m.data).sort(),
      [...allTexts].sort(),
      'every sent text was delivered exactly once',
    );
    assert.equal(s.acks.length, s.texts.length, 'one ack per send');
  }
  const ackIds = senders.flatMap((s) => s.acks.map((a) => a.id)).sort((a, b) => a - b);
  assert.deepEqual(ackIds, ids, 'the acks name each stored message once');
  const byId = new Map(senders[0]!.delivered.map((m) => [m.id, m.data]));
  for (const s of senders) {
    s.acks.forEach((ack) => assert.ok(s.texts.includes(byId.get(ack.id)!), 'an ack names the message that was sent'));
  }
}

describe('ParleyClient against the real server', () => {
  it('loses and repeats nothing when the server is SIGKILLed and restarted while two clients send', async () => {
    const dataDir = tempDataDir();
    const port = String(await freePort());
    let server = await spawnServer({ DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' });
    const clients: ParleyClient[] = [];
    try {
      const ann = await signIn.guest(server.url, 'ann');
      const bob = await signIn.guest(server.url, 'bob');
      const senders = [ann, bob].map(({ token }) => {
        const client = new ParleyClient({ url: server.url, token, reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
        clients.push(client);
        const s = track(client, 'lobby');
        // A fresh room: deliver from its first message on.
        client.join('lobby', { after: 0 });
        client.connect();
        return s;
      });
      const states: string[] = [];
      clients[0]!.on('state', (s) => states.push(s.state));

      const sending = Promise.all(senders.map((s, i) => keepSending(s, 'lobby', i === 0 ? 'ann' : 'bob', 60, 15)));
      await waitFor(() => senders.every((s) => s.acks.length >= 15), 'some acks before the kill');
      assert.equal(await server.stop('SIGKILL'), null);
      await sleep(300);
      server = await spawnServer({ DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' });
      await sending;
      await waitFor(() => senders.every((s) => s.delivered.length >= 120), 'all 120 messages at both clients');

      assertExactlyOnce(senders);
      assert.ok(states.includes('reconnecting'), 'the client went through reconnecting');
      const stored = await fetchMessages(server.url, 'lobby', { limit: 100, token: ann.token });
      assert.equal(stored.data.at(-1)?.id, 120, 'the server stored each message once');
    } finally {
      clients.forEach((c) => c.close());
      await server.stop('SIGTERM');
    }
  });

  it('loses and repeats nothing when the network cuts the connections again and again', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const proxy = new CuttableProxy(server.port);
    const viaProxy = await proxy.listen();
    const clients: ParleyClient[] = [];
    try {
      const ann = await signIn.guest(server.url, 'ann');
      const bob = await signIn.guest(server.url, 'bob');
      const senders = [ann, bob].map(({ token }) => {
        const client = new ParleyClient({ url: viaProxy, token, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
        clients.push(client);
        const s = track(client, 'lobby');
        client.join('lobby'); // no `after`: the position comes from the first delivered message
        client.connect();
        return s;
      });
      await waitFor(() => clients.every((c) => c.state === 'open'), 'both open');
      // Each client has a position in the room before the first cut.
      senders[0]!.texts.push('first');
      senders[0]!.acks.push(await senders[0]!.client.send('lobby', 'first'));
      const drops = [0, 0];
      clients.forEach((c, i) => c.on('state', (s) => void (s.state === 'reconnecting' && drops[i]!++)));
      await waitFor(() => senders.every((s) => s.delivered.length >= 1), 'first message at both');

      const sending = Promise.all(senders.map((s, i) => keepSending(s, 'lobby', i === 0 ? 'ann' : 'bob', 50, 10)));
      for (let cut = 1; cut <= 3; cut++) {
        await waitFor(() => senders.every((s) => s.acks.length >= cut * 12), `acks before cut ${cut}`);
        proxy.cut();
      }
      await sending;
      await waitFor(() => senders.every((s) => s.delivered.length >= 101), 'all 101 messages at both clients');
      assertExactlyOnce(senders);
      assert.ok(drops.every((n) => n >= 3), `each client noticed the three cuts (${drops})`);
    } finally {
      clients.forEach((c) => c.close());
      await proxy.close();
      await server.close();
    }
  });

  it('delivers direct messages to both users, also after a cut', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const proxy = new CuttableProxy(server.port);
    const viaProxy = await proxy.listen();
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const a = new ParleyClient({ url: viaProxy, token: ann.token, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    const b = new ParleyClient({ url: viaProxy, token: bob.token, reconnect: { minDelayMs: 20, maxDelayMs: 200 } });
    try {
      const seenByBob: ChatMessage[] = [];
      b.on('chat', (m) => seenByBob.push(m));
      a.connect();
      b.connect();
      await waitFor(() => a.state === 'open' && b.state === 'open', 'both open');
      const first = await a.dm(bob.user.id, 'psst');
      assert.equal(first.room, `dm:${Math.min(ann.user.id, bob.user.id)}:${Math.max(ann.user.id, bob.user.id)}`);
      await waitFor(() => seenByBob.length === 1, 'the first DM at bob');
      proxy.cut();
      const second = await a.dm(bob.user.id, 'still there?');
      await waitFor(() => seenByBob.length === 2, 'the second DM at bob');
      assert.deepEqual(seenByBob.map((m) => [m.room, m.id, m.data, m.user.name]), [
        [first.room, 1, 'psst', 'ann'],
        [second.room, 2, 'still there?', 'ann'],
      ]);
      assert.ok(b.joinedRooms.includes(first.room), 'the DM room is rejoined after reconnects');
    } finally {
      a.close();
      b.close();
      await proxy.close();
      await server.close();
    }
  });

  it('delivers a burst of DMs to a user who never opened the conversation, each once and in order', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0', SIGNIN_RATE: '0' });
    try {
      for (let pair = 0; pair < 10; pair++) {
        const ann = await signIn.guest(server.url, `ann${pair}`);
        const bob = await signIn.guest(server.url, `bob${pair}`);
        const a = new ParleyClient({ url: server.url, token: ann.token });
        const b = new ParleyClient({ url: server.url, token: bob.token });
        const seenByBob: number[] = [];
        b.on('chat', (m) => seenByBob.push(m.id));
        try {
          a.connect();
          b.connect();
          await waitFor(() => a.state === 'open' && b.state === 'open', 'both open');
          const acks = await Promise.all([1, 2, 3, 4, 5].map((i) => a.dm(bob.user.id, `burst ${i}`)));
          await waitFor(() => seenByBob.length >= 5 || seenByBob.at(-1) === acks[4]!.id, 'the last DM at bob', 5000);
          await sleep(20);
          assert.deepEqual(seenByBob, acks.map((ack) => ack.id), `pair ${pair}`);
        } finally {
          a.close();
          b.close();
        }
      }
    } finally {
      await server.close();
    }
  });

  it('misses nothing in a room joined without after, when the cut comes before its first message', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const proxy = new CuttableProxy(server.port);
    const viaProxy = await proxy.listen();
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const writer = new ParleyClient({ url: server.url, token: bob.token });
    const early = await (async () => {
      writer.connect();
      return writer.send('lobby', 'before ann joined');
    })();
    const reader = new ParleyClient({ url: viaProxy, token: ann.token, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
    try {
      const seen: ChatMessage[] = [];
      reader.on('chat', (m) => seen.push(m));
      let lists = 0;
      reader.on('list', () => lists++);
      reader.join('lobby');
      reader.connect();
      await waitFor(() => lists === 1, 'the join answered');
      proxy.refusing = true;
      proxy.cut();
      await waitFor(() => reader.state === 'reconnecting', 'reader offline');
      const missed = await writer.send('lobby', 'sent while ann was away');
      proxy.refusing = false;
      await waitFor(() => seen.length === 1, 'the missed message at ann');
      assert.deepEqual(seen.map((m) => [m.id, m.data]), [[missed.id, 'sent while ann was away']]);
      assert.equal(missed.id, early.id + 1);
    } finally {
      reader.close();
      writer.close();
      await proxy.close();
      await server.close();
    }
  });

  it('reports a history gap when the messages missed are no longer kept, then goes on in order', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0', HISTORY_KEEP: '5' });
    const proxy = new CuttableProxy(server.port);
    const viaProxy = await proxy.listen();
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const reader = new ParleyClient({ url: viaProxy, token: ann.token, reconnect: { minDelayMs: 20, maxDelayMs: 100 } });
    const writer = new ParleyClient({ url: server.url, token: bob.token });
    try {
      const ids: number[] = [];
      const gaps: string[] = [];
      reader.on('chat', (m) => ids.push(m.id));
      reader.on('history_gap', (g) => gaps.push(g.room));
      reader.join('lobby', { after: 0 });
      reader.connect();
      writer.connect();
      for (let i = 0; i < 3; i++) await writer.send('lobby', `m${i}`);
      await waitFor(() => ids.length === 3, 'three messages at the reader');

      proxy.refusing = true;
      proxy.cut();
      await waitFor(() => reader.state === 'reconnecting', 'reader offline');
      let last: Ack | undefined;
      for (let i = 3; i < 30; i++) last = await writer.send('lobby', `m${i}`);
      proxy.refusing = false;
      await waitFor(() => ids.at(-1) === last!.id, 'the reader caught up');

      assert.deepEqual(gaps, ['lobby']);
      assert.deepEqual(ids.slice(0, 3), [1, 2, 3]);
      assert.ok(ids[3]! > 4, 'the pruned messages are skipped, not invented');
      for (let i = 4; i < ids.length; i++) assert.equal(ids[i], ids[i - 1]! + 1, 'in order, once each, after the gap');
    } finally {
      reader.close();
      writer.close();
      await proxy.close();
      await server.close();
    }
  });

  it('goes on when the server comes back from an older backup: says the room went back, then delivers the new messages that reuse ids', async () => {
    const dataDir = tempDataDir();
    const backup = tempDataDir();
    const port = String(await freePort());
    const settings = { DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' };
    let server = await spawnServer(settings);
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const reader = new ParleyClient({ url: server.url, token: ann.token, reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
    const write = (texts: string[]) => writeToLobby(server.url, bob.token, texts);
    try {
      const got: string[] = [];
      const rewinds: Array<{ room: string; lastId: number }> = [];
      reader.on('chat', (m) => got.push(`${m.id} ${m.data}`));
      reader.on('rewound', (r) => rewinds.push(r));
      reader.join('lobby', { after: 0 });
      reader.connect();
      await write(['one', 'two', 'three']);
      await waitFor(() => got.length === 3, 'three messages');

      // A backup, taken with the server stopped as docs/operations.md says; then two more messages.
      await server.stop();
      cpSync(dataDir, backup, { recursive: true });
      server = await spawnServer(settings);
      await write(['four', 'five']);
      await waitFor(() => got.length === 5, 'five messages');

      // The operator restores the backup: the room's history ends at 3 again.
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      cpSync(backup, dataDir, { recursive: true });
      server = await spawnServer(settings);
      await waitFor(() => rewinds.length === 1, 'the rewound event');
      assert.deepEqual(rewinds, [{ room: 'lobby', lastId: 3 }]);

      await write(['four again']);
      await waitFor(() => got.length === 6, 'the message after the restore');
      assert.deepEqual(got, ['1 one', '2 two', '3 three', '4 four', '5 five', '4 four again']);
    } finally {
      reader.close();
      await server.stop();
      rmSync(backup, { recursive: true, force: true });
    }
  });

  it('is rewound when the server comes back from an older backup whose room has grown past it again', async () => {
    const dataDir = tempDataDir();
    const backup = tempDataDir();
    const port = String(await freePort());
    const settings = { DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' };
    let server = await spawnServer(settings);
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const reader = new ParleyClient({ url: server.url, token: ann.token, reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
    const write = (url: string, texts: string[]) => writeToLobby(url, bob.token, texts);
    try {
      const got: string[] = [];
      const rewinds: Array<{ room: string; lastId: number }> = [];
      reader.on('chat', (m) => got.push(`${m.id} ${m.data}`));
      reader.on('rewound', (r) => rewinds.push(r));
      reader.join('lobby', { after: 0 });
      reader.connect();
      await write(server.url, ['one', 'two', 'three']);
      await waitFor(() => got.length === 3, 'three messages');
      await server.stop();
      cpSync(dataDir, backup, { recursive: true });
      server = await spawnServer(settings);
      await write(server.url, ['four', 'five']);
      await waitFor(() => got.length === 5, 'five messages');

      // The backup is restored, and the room is written again past 5 while the reader is away
      // (the server runs on another port meanwhile): ids 4, 5 and 6 are new messages.
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      cpSync(backup, dataDir, { recursive: true });
      const elsewhere = await spawnServer({ ...settings, PORT: String(await freePort()) });
      await write(elsewhere.url, ['new four', 'new five', 'new six']);
      await elsewhere.stop();
      server = await spawnServer(settings);

      await waitFor(() => got.length === 8, 'the messages written after the restore');
      assert.deepEqual(rewinds, [{ room: 'lobby', lastId: 3 }]);
      assert.deepEqual(got, ['1 one', '2 two', '3 three', '4 four', '5 five', '4 new four', '5 new five', '6 new six']);
    } finally {
      reader.close();
      await server.stop();
      rmSync(backup, { recursive: true, force: true });
    }
  });

  it('stops for good, without trying again, when its session is ended (logged out from another window)', async () => {
    const server = await startTestServer();
    const ann = await signIn.guest(server.url, 'ann');
    const client = new ParleyClient({ url: server.url, token: ann.token, reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
    try {
      const states: string[] = [];
      client.on('state', (s) => states.push(s.state));
      const closed = new Promise<{ code: number; reason: string }>((resolve) => client.on('closed', resolve));
      client.connect();
      await waitFor(() => client.state === 'open', 'open');
      await logout(server.url, ann.token);
      assert.equal((await closed).code, 401);
      assert.ok(!states.includes('reconnecting'), `no reconnect with a token that is refused (${states.join(', ')})`);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('stops for good on 401, and rejects sends the server refuses with their code', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0', MAX_TEXT: '20' });
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const stranger = new ParleyClient({ url: server.url, token: 'not-a-session', reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
    const a = new ParleyClient({ url: server.url, token: ann.token });
    const b = new ParleyClient({ url: server.url, token: bob.token });
    try {
      const closed = new Promise<{ code: number; reason: string }>((resolve) => stranger.on('closed', resolve));
      const refused = stranger.send('lobby', 'hi');
      stranger.connect();
      assert.equal((await closed).code, 401);
      await assert.rejects(refused, (e: unknown) => e instanceof ParleyError && e.code === 'closed');
      assert.equal(stranger.state, 'closed');

      a.connect();
      b.connect();
      await assert.rejects(a.send('lobby', 'x'.repeat(21)), (e: unknown) => e instanceof ParleyError && e.code === 'too_large');
      await createRoom(server.url, 'secret', { private: true, token: ann.token });
      await a.send('secret', 'members only');
      await assert.rejects(b.send('secret', 'let me in'), (e: unknown) => e instanceof ParleyError && e.code === 'not_found');
      assert.equal(a.pendingSends + b.pendingSends, 0);
    } finally {
      stranger.close();
      a.close();
      b.close();
      await server.close();
    }
  });
});

/**
 * The delivery guarantee on the server side: replay with `after` then live, with no gap and no
 * duplicate while messages keep coming; and every acked message survives a SIGKILL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChatClient, signInGuest, type Frame } from '../helpers/chat-client.js';
import { freePort, spawnServer, startTestServer, tempDataDir } from '../helpers/server.js';

describe('join with after', () => {
  it('replays what was missed, then continues live, with no gap and no duplicate while others publish', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const publisherUser = await signInGuest(server.url, 'publisher');
    const readerUser = await signInGuest(server.url, 'reader');
    const publisher = await ChatClient.connect(server.wsUrl, publisherUser.token);
    const total = 1500;
    let sent = 0;
    let acked = 0;
    publisher.ws.on('message', (d) => {
      if (JSON.parse(d.toString()).type === 'ack') acked++;
    });
    // Publish continuously in small bursts across event-loop turns.
    const publishing = (async () => {
      while (sent < total) {
        for (let i = 0; i < 10 && sent < total; i++) {
          sent++;
          publisher.send({ type: 'chat', room: 'lobby', data: `n${sent}`, cid: `p${sent}` });
        }
        await new Promise((r) => setImmediate(r));
      }
    })();

    // Several readers keep disconnecting and rejoining with `after` = the last id they saw.
    const readers = await Promise.all(
      [0, 1, 2].map(async () => {
        const seen: number[] = [];
        let last = 0;
        for (let round = 0; round < 6; round++) {
          const c = await ChatClient.connect(server.wsUrl, readerUser.token);
          c.send(round === 0 ? { type: 'join', room: 'lobby', after: 0 } : { type: 'join', room: 'lobby', after: last });
          const until = Date.now() + 40 + Math.random() * 60;
          while (Date.now() < until) await new Promise((r) => setTimeout(r, 5));
          for (const f of c.all('chat')) {
            seen.push(f.id as number);
            last = f.id as number;
          }
          await c.close();
        }
        return { seen, last };
      }),
    );
    await publishing;
    while (acked < total) await new Promise((r) => setTimeout(r, 10));

    // A final rejoin of each reader catches up to the end.
    for (const r of readers) {
      const c = await ChatClient.connect(server.wsUrl, readerUser.token);
      c.send({ type: 'join', room: 'lobby', after: r.last });
      if (r.last < total) await c.next('chat', (f) => f.id === total, 10_000);
      for (const f of c.all('chat')) r.seen.push(f.id as number);
      await c.close();
      assert.deepEqual(r.seen, Array.from({ length: total }, (_, i) => i + 1), 'ids 1..N in order, each once');
    }
    await publisher.close();
    await server.close();
  });

  it('sends history_gap when the asked-for messages are no longer kept, then replays what is', async () => {
    const server = await startTestServer({ HISTORY_KEEP: '5', RATE_LIMIT: '0' });
    const u = await signInGuest(server.url, 'u');
    const c = await ChatClient.connect(server.wsUrl, u.token);
    for (let i = 1; i <= 12; i++) c.send({ type: 'chat', room: 'lobby', data: `m${i}`, cid: `m${i}` });
    for (let i = 1; i <= 12; i++) await c.next('ack');
    await new Promise((r) => setTimeout(r, 50)); // pruning runs after the append
    c.send({ type: 'join', room: 'lobby', after: 2 });
    const gap = await c.next('error');
    assert.equal(gap.code, 'history_gap');
    assert.equal(gap.room, 'lobby');
    const replayed: Frame[] = [];
    for (;;) {
      const f = await c.next('chat');
      replayed.push(f);
      if (f.id === 12) break;
    }
    // Pruning keeps at least HISTORY_KEEP messages (it runs every few appends, so a few more may remain).
    const first = replayed[0]!.id as number;
    assert.ok(first > 3 && first <= 8, `replay starts after the pruned part, at ${first}`);
    assert.deepEqual(replayed.map((f) => f.id), Array.from({ length: 13 - first }, (_, i) => first + i));
    // Over HTTP the same catch-up says gap: true; one that starts at what is kept does not.
    const get = async (after: number) =>
      (await (await fetch(`${server.url}/api/rooms/lobby/messages?after=${after}`, { headers: { authorization: `Bearer ${u.token}` } })).json()) as {
        data: Array<{ id: number }>;
        gap?: boolean;
      };
    const gapped = await get(2);
    assert.equal(gapped.gap, true);
    assert.equal(gapped.data[0]!.id, first);
    assert.equal((await get(first - 1)).gap, undefined);
    await c.close();
    await server.close();
  });
});

describe('durability', () => {
  it('keeps every acked message, with contiguous ids, after a SIGKILL in the middle of a stream', async () => {
    const dataDir = tempDataDir();
    const port = String(await freePort());
    let server = await spawnServer({ DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' });
    const u = await signInGuest(server.url, 'writer');
    const c = await ChatClient.connect(server.wsUrl, u.token);
    const acked = new Map<string, number>();
    c.ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Frame;
      if (f.type === 'ack') acked.set(f.cid as string, f.id as number);
    });
    let n = 0;
    const stream = setInterval(() => {
      for (let i = 0; i < 20; i++) c.send({ type: 'chat', room: 'lobby', data: `s${++n}`, cid: `s${n}` });
    }, 2);
    while (acked.size < 500) await new Promise((r) => setTimeout(r, 5));
    await server.stop('SIGKILL');
    clearInterval(stream);
    await c.closed;
    assert.ok(acked.size >= 500);

    server = await spawnServer({ DATA_DIR: dataDir, PORT: port });
    try {
      const ids: number[] = [];
      const byId = new Map<number, string>();
      let before: number | undefined;
      for (;;) {
        const q = before === undefined ? 'limit=100' : `limit=100&before=${before}`;
        const res = await fetch(`${server.url}/api/rooms/lobby/messages?${q}`, { headers: { authorization: `Bearer ${u.token}` } });
        const page = (await res.json()) as { data: Array<{ id: number; cid?: string }>; more: boolean };
        for (const m of page.data) byId.set(m.id, m.cid ?? '');
        ids.unshift(...page.data.map((m) => m.id));
        if (!page.more) break;
        before = page.data[0]!.id;
      }
      assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => i + 1), 'ids are 1..N with no gap');
      for (const [cid, id] of acked) assert.equal(byId.get(id), cid, `acked ${cid} is stored as ${id}`);
    } finally {
      await server.stop();
    }
  });

  it('stops on SIGTERM: clients get 1001 and the process exits 0', async () => {
    const server = await spawnServer({ DATA_DIR: tempDataDir(), PORT: String(await freePort()) });
    const u = await signInGuest(server.url, 'leaver');
    const c = await ChatClient.connect(server.wsUrl, u.token);
    const code = await server.stop('SIGTERM');
    assert.equal(await c.closed, 1001);
    assert.equal(code, 0);
  });
});

describe('direct messages in a burst', () => {
  it('delivers every DM of a burst, once and in order, to a user who never opened the conversation', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0', SIGNIN_RATE: '0' });
    try {
      // 20 pairs, half of them with the DM room made beforehand (a conversation that already exists).
      for (let pair = 0; pair < 20; pair++) {
        const a = await signInGuest(server.url, `sender${pair}`);
        const b = await signInGuest(server.url, `recipient${pair}`);
        const sender = await ChatClient.connect(server.wsUrl, a.token);
        if (pair % 2 === 1) {
          sender.send({ type: 'dm', to: b.user.id, data: 'earlier', cid: 'e' });
          await sender.next('ack');
        }
        const recipient = await ChatClient.connect(server.wsUrl, b.token);
        const acks: number[] = [];
        for (let i = 1; i <= 5; i++) sender.send({ type: 'dm', to: b.user.id, data: `burst ${i}`, cid: `b${i}` });
        for (let i = 1; i <= 5; i++) acks.push((await sender.next('ack', (f) => f.cid === `b${i}`)).id as number);
        await recipient.next('chat', (f) => f.id === acks[4]);
        await new Promise((r) => setTimeout(r, 20)); // anything repeated would come now
        assert.deepEqual(recipient.all('chat').map((f) => f.id), acks, `pair ${pair}: every acked DM once, in order`);
        await sender.close();
        await recipient.close();
      }
    } finally {
      await server.close();
    }
  });
});

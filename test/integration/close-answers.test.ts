/**
 * Every message the server admitted is answered (ack or error) before its close frame: when it
 * cuts off a client for rate abuse (1008) and when it shuts down (SIGTERM, 1001). What was stored
 * is what was acked: a stored message without its ack would be a message the client must send
 * again without knowing that it is a duplicate, an answered one that is not stored a lie.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChatClient, signInGuest, type Frame } from '../helpers/chat-client.js';
import { freePort, spawnServer, startTestServer, tempDataDir } from '../helpers/server.js';

/** Every message of the room, by cid: the id it was stored as. */
async function storedByCid(url: string, token: string, room: string): Promise<Map<string, number>> {
  const stored = new Map<string, number>();
  for (let after = 0; ; ) {
    const res = await fetch(`${url}/api/rooms/${room}/messages?after=${after}&limit=100`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const page = (await res.json()) as { data: Array<{ id: number; cid?: string }>; more: boolean };
    for (const m of page.data) if (m.cid !== undefined) stored.set(m.cid, m.id);
    if (page.data.length === 0) return stored;
    after = page.data.at(-1)!.id;
  }
}

/** What the frames before the close frame answered: acks by cid, and the cids refused with an error. */
function answers(frames: Frame[]): { acked: Map<string, number>; refused: Map<string, string> } {
  const acked = new Map<string, number>();
  const refused = new Map<string, string>();
  for (const f of frames) {
    if (f.type === 'ack') acked.set(f.cid as string, f.id as number);
    if (f.type === 'error' && typeof f.cid === 'string') refused.set(f.cid, f.code as string);
  }
  return { acked, refused };
}

describe('answers before the close frame', () => {
  it('acks every message stored before it closes a client with 1008 for rate abuse', async () => {
    const server = await startTestServer({ RATE_LIMIT: '20' });
    try {
      const u = await signInGuest(server.url, 'flooder');
      const c = await ChatClient.connect(server.wsUrl, u.token);
      // A burst of 40 passes, then 41 refusals in a row close the connection.
      for (let i = 0; i < 150; i++) c.send({ type: 'chat', room: 'lobby', data: `flood ${i}`, cid: `f${i}` });
      assert.equal(await c.closed, 1008);
      const { acked, refused } = answers(c.frames);
      const stored = await storedByCid(server.url, u.token, 'lobby');
      assert.ok(stored.size >= 40, `the burst was stored (${stored.size})`);
      assert.deepEqual([...acked].sort(), [...stored].sort(), 'every stored message acked, under its id, before the close');
      for (const cid of refused.keys()) assert.ok(!stored.has(cid), `${cid} refused but stored`);
    } finally {
      await server.close();
    }
  });

  it('answers every message it admitted before it closes with 1001 on SIGTERM', { timeout: 60_000 }, async () => {
    const dataDir = tempDataDir();
    const port = String(await freePort());
    // A burst of 2 × RATE_LIMIT passes; the first refusal (rate_limited, sent as the frame is read)
    // shows that every frame before it was read: those not refused were admitted.
    const server = await spawnServer({ DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '50' });
    const sender = await signInGuest(server.url, 'sender');
    const other = await signInGuest(server.url, 'other');
    const c = await ChatClient.connect(server.wsUrl, sender.token);
    let stopped: Promise<number | null> | undefined;
    try {
      // DMs are handled one after another, each with store calls: most of them are still waiting
      // their turn when SIGTERM comes.
      for (let i = 0; i < 130; i++) c.send({ type: 'dm', to: other.user.id, data: `dm ${i}`, cid: `d${i}` });
      await c.next('error', (f) => f.code === 'rate_limited');
      stopped = server.stop('SIGTERM');
      assert.equal(await c.closed, 1001);
      assert.equal(await stopped, 0);
      const { acked, refused } = answers(c.frames);
      const admitted = Array.from({ length: 130 }, (_, i) => `d${i}`).filter((cid) => refused.get(cid) !== 'rate_limited');
      assert.ok(admitted.length >= 100, `admitted ${admitted.length}`);
      const unanswered = admitted.filter((cid) => !acked.has(cid) && !refused.has(cid));
      assert.deepEqual(unanswered, [], 'admitted but neither acked nor refused before the close frame');

      const again = await spawnServer({ DATA_DIR: dataDir, PORT: port });
      try {
        const [low, high] = [sender.user.id, other.user.id].sort((a, b) => a - b);
        const stored = await storedByCid(again.url, sender.token, `dm:${low}:${high}`);
        assert.deepEqual([...acked].sort(), [...stored].sort(), 'every stored message acked, under its id');
      } finally {
        await again.stop();
      }
    } finally {
      await c.close();
      await (stopped ?? server.stop());
    }
  });
});

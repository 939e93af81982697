/**
 * The server killed (SIGKILL) several times while publishers and subscribers run, as raw protocol
 * clients doing what the SDK does: publishers send with a cid and, after each reconnect, send every
 * message not acked yet again; subscribers rejoin with `after` = the last id they got. In the end
 * every message was acked once under one id, and every subscriber got every one of them exactly
 * once, in id order. FAULT_KILLS sets the number of kills (see docs/operations.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { signInGuest, type Frame } from '../helpers/chat-client.js';
import { freePort, spawnServer, tempDataDir, type SpawnedServer } from '../helpers/server.js';

const KILLS = Number(process.env.FAULT_KILLS ?? 3);
if (!Number.isSafeInteger(KILLS) || KILLS < 1) throw new Error(`FAULT_KILLS=${process.env.FAULT_KILLS}: must be a whole number of 1 or more`);
const PUBLISHERS = 3;
const SUBSCRIBERS = 3;
/** Messages per publisher: enough that each kill lands while messages are in flight. */
const PER_PUBLISHER = 150 * (KILLS + 1);
/** Messages a publisher has sent and not had acked, at most. */
const WINDOW = 10;

/** A connection to /ws/chat that comes back whenever it drops, until stopped. */
class Reconnecting {
  #ws: WebSocket | undefined;
  #stopped = false;
  connections = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly onWelcome: () => void,
    private readonly onFrame: (f: Frame) => void,
  ) {
    this.#open();
  }

  send(message: object): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(message));
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }

  #open(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(`${this.url}/ws/chat`, { headers: { authorization: `Bearer ${this.token}` } });
    this.#ws = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.type === 'welcome') {
        this.connections++;
        this.onWelcome();
      } else this.onFrame(frame);
    });
    // Refused while the server is down or starting: try again shortly.
    ws.on('error', () => undefined);
    ws.on('close', () => setTimeout(() => this.#open(), 50));
  }
}

class Publisher {
  readonly acked = new Map<string, number>();
  readonly errors: Frame[] = [];
  /** A cid acked under two ids: stored twice. */
  readonly conflicts: string[] = [];
  readonly #unacked = new Set<string>();
  #next = 0;
  /** Messages sent again after a reconnect. */
  resent = 0;
  readonly conn: Reconnecting;
  readonly done: Promise<void>;
  #finish!: () => void;

  constructor(url: string, token: string, readonly name: string) {
    this.done = new Promise((resolve) => (this.#finish = resolve));
    this.conn = new Reconnecting(
      url,
      token,
      () => {
        // A new connection: everything not acked may or may not be stored; send it again with its cid.
        for (const cid of this.#unacked) this.#send(cid);
        this.resent += this.#unacked.size;
        this.#fill();
      },
      (f) => this.#onFrame(f),
    );
  }

  #send(cid: string): void {
    this.conn.send({ type: 'chat', room: 'lobby', data: `message ${cid}`, cid });
  }

  #fill(): void {
    while (this.#unacked.size < WINDOW && this.#next < PER_PUBLISHER) {
      const cid = `${this.name}-${this.#next++}`;
      this.#unacked.add(cid);
      this.#send(cid);
    }
  }

  #onFrame(f: Frame): void {
    if (f.type === 'error') this.errors.push(f);
    if (f.type !== 'ack') return;
    const cid = f.cid as string;
    const earlier = this.acked.get(cid);
    if (earlier !== undefined && earlier !== f.id) this.conflicts.push(`${cid} acked as ${earlier} and as ${f.id}`);
    this.acked.set(cid, f.id as number);
    this.#unacked.delete(cid);
    this.#fill();
    if (this.acked.size === PER_PUBLISHER) {
      this.conn.stop();
      this.#finish();
    }
  }
}

class Subscriber {
  readonly received: { id: number; cid: string }[] = [];
  readonly errors: Frame[] = [];
  readonly conn: Reconnecting;
  #until = Infinity;
  #reached: (() => void) | undefined;

  constructor(url: string, token: string) {
    this.conn = new Reconnecting(
      url,
      token,
      () => this.conn.send({ type: 'join', room: 'lobby', after: this.received.at(-1)?.id ?? 0 }),
      (f) => {
        if (f.type === 'error') this.errors.push(f);
        if (f.type !== 'chat' || f.room !== 'lobby') return;
        this.received.push({ id: f.id as number, cid: f.cid as string });
        if ((f.id as number) >= this.#until) this.#reached?.();
      },
    );
  }

  /** Resolves once a message with an id of at least `id` has arrived. */
  reach(id: number): Promise<void> {
    if ((this.received.at(-1)?.id ?? 0) >= id) return Promise.resolve();
    this.#until = id;
    return new Promise((resolve) => (this.#reached = resolve));
  }
}

describe(`SIGKILL under load (${KILLS} kills)`, () => {
  it('delivers every acked message to every subscriber exactly once, in order, across the kills', { timeout: 600_000 }, async () => {
    const settings = { DATA_DIR: tempDataDir(), PORT: String(await freePort()), RATE_LIMIT: '0', SIGNIN_RATE: '0' };
    let server: SpawnedServer = await spawnServer(settings);
    const publishers: Publisher[] = [];
    const subscribers: Subscriber[] = [];
    try {
      for (let i = 0; i < SUBSCRIBERS; i++) subscribers.push(new Subscriber(server.wsUrl, (await signInGuest(server.url, `sub${i}`)).token));
      for (let i = 0; i < PUBLISHERS; i++) publishers.push(new Publisher(server.wsUrl, (await signInGuest(server.url, `pub${i}`)).token, `pub${i}`));
      const total = PUBLISHERS * PER_PUBLISHER;
      const ackedSoFar = () => publishers.reduce((n, p) => n + p.acked.size, 0);

      for (let kill = 1; kill <= KILLS; kill++) {
        // Kill once the run has made its share of progress, while messages are in flight.
        while (ackedSoFar() < (total * kill) / (KILLS + 1)) await new Promise((r) => setTimeout(r, 5));
        await server.stop('SIGKILL');
        server = await spawnServer(settings);
      }
      await Promise.all(publishers.map((p) => p.done));
      await Promise.all(subscribers.map((s) => s.reach(total)));

      const byId = new Map<number, string>();
      for (const p of publishers) {
        assert.deepEqual(p.conflicts, [], 'a retried cid is acked under its first id');
        for (const [cid, id] of p.acked) {
          assert.equal(byId.get(id), undefined, `id ${id} acked for both ${byId.get(id)} and ${cid}`);
          byId.set(id, cid);
        }
      }
      // Each message stored once: the acked ids are exactly 1..total.
      assert.deepEqual([...byId.keys()].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1));
      const expected = Array.from({ length: total }, (_, i) => ({ id: i + 1, cid: byId.get(i + 1)! }));
      for (const [i, s] of subscribers.entries()) {
        assert.deepEqual(s.received, expected, `subscriber ${i} got every message once, in order`);
        assert.deepEqual(s.errors, []);
        assert.ok(s.conn.connections > KILLS, `subscriber ${i} reconnected after each kill`);
      }
      for (const p of publishers) assert.deepEqual(p.errors, []);
      assert.ok(publishers.every((p) => p.resent > 0), 'every publisher had messages in flight at a kill and sent them again');
    } finally {
      for (const c of [...publishers, ...subscribers]) c.conn.stop();
      await server.stop();
    }
  });
});

/**
 * The behaviour every Broker implementation must have. An implementation's test file calls
 * `runBrokerContract('LocalBroker', open)`; `open(n)` gives n fresh brokers that talk to each other
 * (n nodes; an in-process broker supports n = 1 only, and says so with `nodes: 1`) and a cleanup
 * that closes them (whether or not the test closed them already).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker, ChannelEvent } from '../src/broker/types.js';

export type OpenBrokers = (count: number) => Promise<{ brokers: Broker[]; cleanup: () => Promise<void> }>;

/** What one node's handlers received. */
export class Received {
  readonly events: { channel: string; event: ChannelEvent }[] = [];
  resyncs = 0;
  #waiters: (() => void)[] = [];

  constructor(broker: Broker) {
    broker.listen({
      event: (channel, event) => {
        this.events.push({ channel, event });
        this.#wake();
      },
      resync: () => {
        this.resyncs++;
        this.#wake();
      },
    });
  }

  on(channel: string): ChannelEvent[] {
    return this.events.filter((e) => e.channel === channel).map((e) => e.event);
  }

  /** Resolves once `ready()` holds; fails the test if it does not within 10 s. */
  async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!ready()) {
      const left = deadline - Date.now();
      assert.ok(left > 0, `waited 10 s for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

let nextId = 1;
export function chat(room: string, data: string, id = nextId++): ChannelEvent {
  return { kind: 'chat', message: { room, id, user: { id: 7, name: 'ann' }, data, ts: 1_700_000_000_000 + id } };
}

const ids = (events: ChannelEvent[]) => events.map((e) => (e.kind === 'chat' ? e.message.id : -1));

export function runBrokerContract(name: string, open: OpenBrokers, options: { nodes: number }): void {
  const withBrokers = (count: number, fn: (brokers: Broker[], received: Received[]) => Promise<void>) => async () => {
    const { brokers, cleanup } = await open(count);
    try {
      await fn(brokers, brokers.map((b) => new Received(b)));
    } finally {
      await cleanup();
    }
  };

  describe(`Broker contract: ${name}`, () => {
    it('delivers an event to a subscribed node, itself included, from the subscribe on', withBrokers(1, async ([broker], [got]) => {
      await broker!.publish('lobby', chat('lobby', 'before'));
      await broker!.subscribe('lobby');
      const every: ChannelEvent[] = [
        chat('lobby', 'hello'),
        { kind: 'join', room: 'lobby', user: { id: 1, name: 'ann' } },
        { kind: 'typing', room: 'lobby', user: { id: 1, name: 'ann' } },
        { kind: 'left', room: 'lobby', user: { id: 1, name: 'ann' } },
      ];
      for (const event of every) await broker!.publish('lobby', event);
      await got!.until(() => got!.events.length >= every.length, 'four events');
      assert.deepEqual(got!.on('lobby'), every, 'each kind as published, nothing from before the subscribe');
    }));

    it('subscribes and unsubscribes idempotently, and an unsubscribed channel gets nothing', withBrokers(1, async ([broker], [got]) => {
      await broker!.unsubscribe('never-subscribed');
      await broker!.subscribe('r');
      await broker!.subscribe('r');
      const first = chat('r', 'once');
      await broker!.publish('r', first);
      await got!.until(() => got!.events.length >= 1, 'the first event');
      await broker!.unsubscribe('r');
      await broker!.unsubscribe('r');
      await broker!.publish('r', chat('r', 'while unsubscribed'));
      // Subscribed again: what comes on the channel now comes after anything published before.
      await broker!.subscribe('r');
      const last = chat('r', 'again');
      await broker!.publish('r', last);
      await got!.until(() => got!.events.length >= 2, 'the event after subscribing again');
      assert.deepEqual(got!.on('r'), [first, last], 'one delivery per publish, none while unsubscribed');
    }));

    it('keeps the order of many events published on one channel, each once, channels apart', withBrokers(1, async ([broker], [got]) => {
      const rooms = ['a', 'b', 'c'];
      for (const room of rooms) await broker!.subscribe(room);
      // Published without waiting for each, as a stored batch is.
      const sent = new Map(rooms.map((room) => [room, [] as number[]]));
      const pending: (Promise<void> | void)[] = [];
      for (let i = 1; i <= 3000; i++) {
        const room = rooms[i % 3]!;
        sent.get(room)!.push(i);
        pending.push(broker!.publish(room, chat(room, `m${i}`, i)));
      }
      await Promise.all(pending);
      await got!.until(() => got!.events.length >= 3000, '3000 events');
      for (const room of rooms) assert.deepEqual(ids(got!.on(room)), sent.get(room), `room ${room} in order`);
    }));

    it('keeps user channels and rooms apart, DM rooms included', withBrokers(1, async ([broker], [got]) => {
      for (const channel of ['user:7', 'user:70', 'user', 'dm:7:70']) await broker!.subscribe(channel);
      const toUser = chat('dm:7:70', 'to user 7');
      await broker!.publish('user:7', toUser);
      await broker!.publish('user:8', chat('dm:7:8', 'to user 8, not followed'));
      const toRoom = chat('user', 'to the room named user');
      await broker!.publish('user', toRoom);
      const toDm = chat('dm:7:70', 'to the DM room');
      await broker!.publish('dm:7:70', toDm);
      const ended: ChannelEvent[] = [{ kind: 'sessions_ended', session: 'rJ3lM9x0Qq2Vd8kS1f6YwA' }, { kind: 'sessions_ended' }];
      for (const event of ended) await broker!.publish('user:7', event);
      await got!.until(() => got!.events.length >= 5, 'five events');
      assert.deepEqual(got!.on('user:7'), [toUser, ...ended]);
      assert.deepEqual(got!.on('user:70'), []);
      assert.deepEqual(got!.on('user'), [toRoom]);
      assert.deepEqual(got!.on('dm:7:70'), [toDm]);
    }));

    it('carries any text intact: emoji, CJK, right-to-left, line separators, NUL, lone surrogates, long', withBrokers(1, async ([broker], [got]) => {
      await broker!.subscribe('ünïcödé-房间');
      const texts = ['👩‍👩‍👧‍👦 🇫🇷 🏴󠁧󠁢󠁳󠁣󠁴󠁿', '你好，世界', 'مرحبا بالعالم', 'a\u2028b\u2029c\nd\r\te', 'nul\u0000byte', 'lone \ud800 surrogate \udc00', 'x'.repeat(64_000) + '€'];
      const sent = texts.map((t) => chat('ünïcödé-房间', t));
      for (const event of sent) await broker!.publish('ünïcödé-房间', event);
      await broker!.publish('ünïcödé-房间', { kind: 'join', room: 'ünïcödé-房间', user: { id: 3, name: 'Émile 李雷 🦊' } });
      await got!.until(() => got!.events.length >= texts.length + 1, 'every text');
      assert.deepEqual(got!.on('ünïcödé-房间'), [...sent, { kind: 'join', room: 'ünïcödé-房间', user: { id: 3, name: 'Émile 李雷 🦊' } }]);
    }));

    it('answers ping, and closes', withBrokers(1, async ([broker]) => {
      assert.equal(await broker!.ping(), true);
      await broker!.subscribe('r');
      await broker!.close();
    }));

    if (options.nodes < 2) return;

    it('delivers across nodes to every node subscribed, and to no other', withBrokers(3, async ([a, b, c], [gotA, gotB, gotC]) => {
      await a!.subscribe('lobby');
      await b!.subscribe('lobby');
      await c!.subscribe('elsewhere');
      const fromA = chat('lobby', 'from a');
      const fromC = chat('lobby', 'from c, which does not follow lobby');
      await a!.publish('lobby', fromA);
      await c!.publish('lobby', fromC);
      const marker = chat('elsewhere', 'marker');
      await a!.publish('elsewhere', marker);
      await gotA!.until(() => gotA!.events.length >= 2, 'both events on a');
      await gotB!.until(() => gotB!.events.length >= 2, 'both events on b');
      await gotC!.until(() => gotC!.events.length >= 1, 'the marker on c');
      assert.deepEqual(gotA!.on('lobby'), [fromA, fromC]);
      assert.deepEqual(gotB!.on('lobby'), [fromA, fromC]);
      assert.deepEqual(gotC!.events, [{ channel: 'elsewhere', event: marker }]);
    }));

    it("keeps each node's order on a channel when two nodes publish at once", withBrokers(2, async ([a, b], [gotA, gotB]) => {
      await a!.subscribe('busy');
      await b!.subscribe('busy');
      const pending: (Promise<void> | void)[] = [];
      for (let i = 0; i < 1000; i++) {
        pending.push(a!.publish('busy', chat('busy', 'a', 10_000 + i)));
        pending.push(b!.publish('busy', chat('busy', 'b', 20_000 + i)));
      }
      await Promise.all(pending);
      for (const got of [gotA!, gotB!]) {
        await got.until(() => got.events.length >= 2000, '2000 events');
        const seen = ids(got.on('busy'));
        assert.deepEqual(seen.filter((id) => id < 20_000), Array.from({ length: 1000 }, (_, i) => 10_000 + i), "a's events in a's order");
        assert.deepEqual(seen.filter((id) => id >= 20_000), Array.from({ length: 1000 }, (_, i) => 20_000 + i), "b's events in b's order");
      }
    }));

    it("reaches a user's channel on every node that follows it", withBrokers(2, async ([a, b], [gotA, gotB]) => {
      await a!.subscribe('user:5');
      await b!.subscribe('user:5');
      const dm = chat('dm:4:5', 'hi');
      await a!.publish('user:5', dm);
      await gotA!.until(() => gotA!.events.length >= 1, 'the DM on a');
      await gotB!.until(() => gotB!.events.length >= 1, 'the DM on b');
      assert.deepEqual(gotB!.on('user:5'), [dm]);
    }));
  });
}

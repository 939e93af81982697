import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoomChannel, Subscription, type Receiver } from '../../src/realtime/room-channel.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { StoredMessage } from '../../src/store/types.js';
import { chats } from '../helpers/appended.js';

/** A receiver that decodes what it is sent (the frames are complete unmasked text frames). */
class Collector implements Receiver {
  readonly user = { id: 1, name: 'reader' };
  readonly frames: Array<{ type: string; id?: number; data?: string }> = [];
  push(frame: Buffer): void {
    const len = frame[1]! & 0x7f;
    const offset = len === 126 ? 4 : len === 127 ? 10 : 2;
    this.frames.push(JSON.parse(frame.subarray(offset).toString()));
  }
  ids(): number[] {
    return this.frames.filter((f) => f.type === 'chat').map((f) => f.id!);
  }
}

async function roomWith(count: number): Promise<{ store: SqliteStore; messages: StoredMessage[] }> {
  const store = await SqliteStore.open(':memory:');
  const user = await store.createUser({ name: 'writer', passwordHash: null, guest: true });
  await store.createRoom({ name: 'r', private: false, createdBy: null });
  const results = chats(await store.appendMessages(
    Array.from({ length: count }, (_, i) => ({ room: 'r', user: { id: user.id, name: user.name }, data: `m${i + 1}`, ts: i })),
  ));
  return { store, messages: results.map((r) => r.message) };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('RoomChannel', () => {
  it('delivers each message once, in id order, however the broker orders them', async () => {
    const { store, messages } = await roomWith(6);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    channel.start(0);
    const reader = new Collector();
    const sub = new Subscription(reader, 'r');
    channel.subscribers.add(sub);
    for (const i of [0, 2, 1, 1, 5, 3, 4, 0]) channel.receive({ kind: 'chat', message: messages[i]! });
    await settle();
    assert.deepEqual(reader.ids(), [1, 2, 3, 4, 5, 6]);
    assert.equal(channel.lastSeq, 6);
  });

  it('fills a gap from the store when a message is never published to this node', async () => {
    const { store, messages } = await roomWith(5);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    channel.start(1);
    const reader = new Collector();
    channel.subscribers.add(new Subscription(reader, 'r'));
    // 2, 3 and 4 were published by another node that died before its broadcast; 5 arrives.
    channel.receive({ kind: 'chat', message: messages[4]! });
    await settle();
    assert.deepEqual(reader.ids(), [2, 3, 4, 5]);
  });

  it('holds messages that arrive before the channel knows where the room stands', async () => {
    const { store, messages } = await roomWith(3);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    const reader = new Collector();
    channel.subscribers.add(new Subscription(reader, 'r'));
    channel.receive({ kind: 'chat', message: messages[1]! });
    channel.receive({ kind: 'chat', message: messages[2]! });
    channel.start(2);
    await settle();
    assert.deepEqual(reader.ids(), [3]);
  });

  it('goes on past a hole whose start was pruned, delivering what the store still has, in order', async () => {
    const { store, messages } = await roomWith(8);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    channel.start(1);
    const reader = new Collector();
    channel.subscribers.add(new Subscription(reader, 'r'));
    // This node saw 1; meanwhile 2-4 were pruned (HISTORY_KEEP) and 5-7 never reached it: 8 arrives.
    await store.prune('r', 4);
    channel.receive({ kind: 'chat', message: messages[7]! });
    await settle();
    assert.deepEqual(reader.ids(), [5, 6, 7, 8]);
    channel.receive({ kind: 'chat', message: messages[7]! });
    assert.deepEqual(reader.ids(), [5, 6, 7, 8], 'and nothing twice');
  });

  it('catches up from the store when told the room is further on, with nothing published after', async () => {
    const { store, messages } = await roomWith(4);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    channel.start(1);
    const reader = new Collector();
    channel.subscribers.add(new Subscription(reader, 'r'));
    // 2-4 were stored by a node that died before publishing them: a periodic check finds lastId 4.
    channel.catchUp(4);
    await settle();
    assert.deepEqual(reader.ids(), [2, 3, 4]);
    channel.receive({ kind: 'chat', message: messages[3]! });
    channel.catchUp(4);
    await settle();
    assert.deepEqual(reader.ids(), [2, 3, 4], 'nothing twice');
  });

  it('keeps live messages of a replaying subscription until the replay is done, without duplicates', async () => {
    const { store, messages } = await roomWith(4);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    channel.start(2);
    const reader = new Collector();
    const sub = new Subscription(reader, 'r');
    sub.state = 'replaying';
    channel.subscribers.add(sub);
    channel.receive({ kind: 'chat', message: messages[2]! });
    channel.receive({ kind: 'chat', message: messages[3]! });
    assert.deepEqual(reader.ids(), [], 'nothing live during the replay');
    // The replay read the store up to 3 and sent it.
    sub.lastSent = 3;
    sub.goLive();
    assert.deepEqual(reader.ids(), [4]);
  });

  it('tells presence and typing to the subscribers, but not a typer about themselves', async () => {
    const { store } = await roomWith(0);
    const channel = new RoomChannel('r', store, (e) => assert.fail(String(e)));
    channel.start(0);
    const reader = new Collector();
    channel.subscribers.add(new Subscription(reader, 'r'));
    channel.receive({ kind: 'join', room: 'r', user: { id: 2, name: 'x' } });
    channel.receive({ kind: 'typing', room: 'r', user: { id: 2, name: 'x' } });
    channel.receive({ kind: 'typing', room: 'r', user: reader.user });
    channel.receive({ kind: 'left', room: 'r', user: { id: 2, name: 'x' } });
    assert.deepEqual(reader.frames.map((f) => f.type), ['join', 'typing', 'left']);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppendBatcher } from '../../src/realtime/append-batcher.js';
import { WorkerStore } from '../../src/store/sqlite/worker-store.js';
import type { NewMessage } from '../../src/store/types.js';
import { chats, messagesOf, type StoredChat } from '../helpers/appended.js';

/**
 * The store as the server runs it, on its own thread (so a batch really is in flight for a while),
 * with its appendMessages calls recorded (sizes, in order) to see how the batches formed.
 */
async function recordedStore() {
  const store = await WorkerStore.open(':memory:');
  const batches: number[] = [];
  const append = store.appendMessages.bind(store);
  store.appendMessages = (batch: NewMessage[]) => {
    batches.push(batch.length);
    return append(batch);
  };
  const user = await store.createUser({ name: 'ann', passwordHash: null, guest: true });
  await store.createRoom({ name: 'lobby', private: false, createdBy: user.id });
  return { store, batches, user: { id: user.id, name: user.name } };
}

function appendOne(batcher: AppendBatcher, message: NewMessage): Promise<StoredChat> {
  return new Promise((resolve, reject) => {
    batcher.append(message, (err, result) => (err ? reject(err) : resolve(chats([result!])[0]!)));
  });
}

test('messages sent in one turn are stored in one batch, with ids in the order they were sent', async () => {
  const { store, batches, user } = await recordedStore();
  const batcher = new AppendBatcher(store);
  const texts = ['one', 'two', 'three', 'four'];
  const results = await Promise.all(texts.map((data) => appendOne(batcher, { room: 'lobby', user, data, ts: 1 })));
  assert.deepEqual(results.map((r) => [r.message.id, r.message.data]), [[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four']]);
  assert.deepEqual(batches, [4]);
  await store.close();
});

test('the next batch reaches the store before the callbacks of the one before it run', async () => {
  const { store, batches, user } = await recordedStore();
  const batcher = new AppendBatcher(store);
  const first = appendOne(batcher, { room: 'lobby', user, data: 'first', ts: 1 });
  // Sent once the first batch is on its way to the store thread (its answer cannot arrive before the
  // loop polls again): this one waits for it and forms the second batch.
  await new Promise((resolve) => setImmediate(resolve));
  let storeCallsWhenFirstDone = 0;
  const firstDone = first.then((r) => {
    storeCallsWhenFirstDone = batches.length;
    return r;
  });
  const second = appendOne(batcher, { room: 'lobby', user, data: 'second', ts: 2 });
  const [a, b] = await Promise.all([firstDone, second]);
  assert.equal(a.message.id, 1);
  assert.equal(b.message.id, 2);
  assert.deepEqual(batches, [1, 1]);
  assert.equal(storeCallsWhenFirstDone, 2);
  await store.close();
});

test('a batch with a message for a missing room stores the others, in order, before any later message', async () => {
  const { store, user } = await recordedStore();
  const batcher = new AppendBatcher(store);
  const sent = [
    appendOne(batcher, { room: 'lobby', user, data: 'a', ts: 1 }),
    appendOne(batcher, { room: 'nowhere', user, data: 'lost', ts: 1 }),
    appendOne(batcher, { room: 'lobby', user, data: 'b', ts: 1 }),
  ];
  const settling = Promise.allSettled(sent);
  // Arrives while that batch is in flight: it must not overtake its retried messages.
  await new Promise((resolve) => setImmediate(resolve));
  const late = appendOne(batcher, { room: 'lobby', user, data: 'c', ts: 2 });
  const settled = [...(await settling), ...(await Promise.allSettled([late]))];
  assert.equal(settled[1]!.status, 'rejected');
  const stored = settled.filter((s) => s.status === 'fulfilled').map((s) => [s.value.message.id, s.value.message.data]);
  assert.deepEqual(stored, [[1, 'a'], [2, 'b'], [3, 'c']]);
  await batcher.drain();
  const history = messagesOf(await store.history('lobby', { limit: 10 }));
  assert.deepEqual(history.map((m) => m.data), ['a', 'b', 'c']);
  await store.close();
});

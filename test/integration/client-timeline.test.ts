/**
 * The SDK's timeline against the real server: edit, delete, react and reply calls, their events,
 * and a Timeline that folds them, which must equal what the history pages say, also for a client
 * that was away while a message was edited, reacted to and deleted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ParleyClient,
  ParleyError,
  Timeline,
  createRoom,
  fetchMessages,
  fetchTimeline,
  signIn,
  type ChatMessage,
  type TimelineEventFrame,
} from '../../src/client/index.js';
import { CuttableProxy } from '../helpers/cuttable-proxy.js';
import { startTestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A Timeline fed by the client's events for one room, and every entry delivered, in order. */
function follow(client: ParleyClient, room: string): { timeline: Timeline; delivered: Array<ChatMessage | TimelineEventFrame> } {
  const timeline = new Timeline(room);
  const delivered: Array<ChatMessage | TimelineEventFrame> = [];
  const take = (entry: ChatMessage | TimelineEventFrame) => {
    if (entry.room !== room) return;
    delivered.push(entry);
    timeline.apply(entry);
  };
  client.on('chat', take);
  client.on('edit', take);
  client.on('delete', take);
  client.on('react', take);
  return { timeline, delivered };
}

/** Every message of the room in its current state, as the server's history pages say. */
async function pages(client: ParleyClient, room: string): Promise<ChatMessage[]> {
  const all: ChatMessage[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await client.history(room, before === undefined ? { limit: 100 } : { before, limit: 100 });
    all.unshift(...page.data);
    if (!page.more || page.data.length === 0) return all;
    before = page.data[0]!.id;
  }
}

describe('ParleyClient timeline', () => {
  it('edits, deletes, reacts and replies, and its Timeline equals the history pages, also after being away', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const proxy = new CuttableProxy(server.port);
    const proxyUrl = await proxy.listen();
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const a = new ParleyClient({ url: server.url, token: ann.token });
    const b = new ParleyClient({ url: proxyUrl, token: bob.token, reconnect: { minDelayMs: 10, maxDelayMs: 50 } });
    try {
      await createRoom(server.url, 'tl', { token: ann.token });
      a.join('tl');
      b.join('tl');
      const seenByA = follow(a, 'tl');
      const seenByB = follow(b, 'tl');
      const listed = Promise.all([a, b].map((c) => new Promise((resolve) => c.once('list', resolve))));
      a.connect();
      b.connect();
      await listed;
      const first = await a.send('tl', 'first draft');
      const second = await b.send('tl', 'from bob');
      const reply = await b.send('tl', 'answering ann', { reply: first.id });
      await a.edit('tl', first.id, 'second draft');
      await b.react('tl', first.id, '👍');
      await a.react('tl', first.id, '👍');
      await a.react('tl', second.id, '🎉');
      await b.react('tl', first.id, '👍', false);
      await waitFor(() => seenByB.delivered.length === 8, 'bob to have every entry');
      assert.deepEqual(await pages(b, 'tl'), seenByB.timeline.messages);
      assert.equal(seenByB.timeline.get(reply.id)?.reply, first.id);
      assert.deepEqual(seenByB.timeline.get(first.id)?.reactions, { '👍': [ann.user.id] });

      // Bob goes away; meanwhile ann's message is edited, reacted to and deleted.
      proxy.refusing = true;
      proxy.cut();
      await waitFor(() => b.state === 'reconnecting', 'bob to notice');
      const away = [
        await a.edit('tl', first.id, 'third draft'),
        await a.react('tl', first.id, '❤️'),
        await a.delete('tl', first.id),
      ];
      const before = seenByB.delivered.length;
      proxy.refusing = false;
      await waitFor(() => seenByB.delivered.length === before + 3, 'the three events after the rejoin');
      await sleep(100);
      const rejoined = seenByB.delivered.slice(before);
      assert.deepEqual(
        rejoined.map((e) => ['type' in e ? e.type : 'chat', e.id]),
        away.map((ack, i) => [['edit', 'react', 'delete'][i], ack.id]),
        'the three events, in id order, once',
      );
      assert.deepEqual(await pages(b, 'tl'), seenByB.timeline.messages, 'bob folded them as the server did');
      assert.deepEqual(seenByA.timeline.messages, seenByB.timeline.messages);
      const gone = seenByB.timeline.get(first.id)!;
      assert.deepEqual([gone.data, gone.deleted, gone.reactions, gone.edited], ['', true, undefined, undefined]);

      // The same over HTTP: a page, then a catch-up with the events themselves.
      const http = new Timeline('tl');
      http.add(await fetchMessages(server.url, 'tl', { limit: 2, token: bob.token }));
      const older = await fetchMessages(server.url, 'tl', { before: second.id, limit: 100, token: bob.token });
      http.add(older);
      const caughtUp = await fetchTimeline(server.url, 'tl', { after: 0, limit: 100, token: bob.token });
      const replayed = new Timeline('tl');
      for (const entry of caughtUp.data) replayed.apply(entry);
      assert.deepEqual(replayed.messages.map(strip), (await pages(b, 'tl')).map(strip));
      assert.deepEqual(http.messages.map(strip), (await pages(b, 'tl')).map(strip));
    } finally {
      a.close();
      b.close();
      await proxy.close();
      await server.close();
    }
  });

  it('agrees on read markers across a user\'s clients, welcomes with them, and hears of mentions', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const laptop = new ParleyClient({ url: server.url, token: ann.token });
    const phone = new ParleyClient({ url: server.url, token: ann.token });
    const b = new ParleyClient({ url: server.url, token: bob.token });
    try {
      laptop.join('lobby');
      const listed = new Promise((resolve) => laptop.once('list', resolve));
      for (const c of [laptop, phone, b]) c.connect();
      await listed;
      const mentioned = new Promise<unknown>((resolve) => phone.once('mention', resolve));
      const sent = await b.send('lobby', 'morning @ann');
      assert.deepEqual(await mentioned, { room: 'lobby', id: sent.id, user: { id: bob.user.id, name: 'bob', guest: true } });
      const told = new Promise<unknown>((resolve) => phone.once('read', resolve));
      laptop.markRead('lobby', sent.id);
      assert.deepEqual(await told, { room: 'lobby', id: sent.id });
      assert.deepEqual([laptop.readMarkers, phone.readMarkers], [{ lobby: sent.id }, { lobby: sent.id }]);
      const later = new ParleyClient({ url: server.url, token: ann.token });
      const welcomed = new Promise((resolve) => later.once('welcome', resolve));
      later.connect();
      await welcomed;
      assert.deepEqual(later.readMarkers, { lobby: sent.id });
      later.close();
    } finally {
      laptop.close();
      phone.close();
      b.close();
      await server.close();
    }
  });

  it('rejects edits, deletes and reactions the server refuses, with their code', async () => {
    const server = await startTestServer();
    const ann = await signIn.guest(server.url, 'ann');
    const bob = await signIn.guest(server.url, 'bob');
    const a = new ParleyClient({ url: server.url, token: ann.token });
    const b = new ParleyClient({ url: server.url, token: bob.token });
    try {
      a.connect();
      b.connect();
      const mine = await a.send('lobby', 'mine');
      const code = (code: string) => (e: unknown) => e instanceof ParleyError && e.code === code;
      await assert.rejects(b.edit('lobby', mine.id, 'yours?'), code('forbidden'));
      await assert.rejects(b.delete('lobby', mine.id), code('forbidden'));
      await assert.rejects(b.react('lobby', mine.id, 'not an emoji'), code('bad_request'));
      await assert.rejects(b.react('lobby', mine.id + 100, '👍'), code('not_found'));
      await assert.rejects(b.send('lobby', 'to nothing', { reply: mine.id + 100 }), code('not_found'));
      assert.equal(a.pendingSends + b.pendingSends, 0);
    } finally {
      a.close();
      b.close();
      await server.close();
    }
  });
});

/** A message as a page gives it over HTTP and over WebSocket alike (HTTP items carry their type). */
function strip(m: ChatMessage): ChatMessage {
  const { type: _type, ...rest } = m as ChatMessage & { type?: string };
  return rest;
}

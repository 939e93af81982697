import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomCursor, RESYNC_RETRY_MS } from '../../src/client/room-cursor.js';
import { backoffDelay } from '../../src/client/backoff.js';
import { httpBaseUrl, webSocketUrl } from '../../src/client/url.js';

test('a room cursor delivers each id once and in order, dropping repeats', () => {
  const cursor = new RoomCursor();
  const verdicts = [5, 6, 6, 4, 7].map((id) => cursor.offer(id));
  assert.deepEqual(verdicts, ['deliver', 'deliver', 'drop', 'drop', 'deliver']);
  assert.equal(cursor.last, 7);
});

test('a hole asks for one re-sync and drops what comes until the replay fills it', () => {
  const cursor = new RoomCursor(3);
  assert.equal(cursor.offer(6, 1000), 'resync');
  assert.equal(cursor.offer(7, 1001), 'drop');
  assert.equal(cursor.offer(4, 1002), 'deliver');
  assert.equal(cursor.offer(5, 1003), 'deliver');
  assert.equal(cursor.offer(6, 1004), 'deliver');
  cursor.synced();
  assert.equal(cursor.offer(9, 1005), 'resync');
});

test('an unanswered re-sync may be asked again after a while', () => {
  const cursor = new RoomCursor(1);
  assert.equal(cursor.offer(3, 0), 'resync');
  assert.equal(cursor.offer(4, RESYNC_RETRY_MS - 1), 'drop');
  assert.equal(cursor.offer(4, RESYNC_RETRY_MS + 1), 'resync');
});

test('after a history gap the oldest message the server still has is accepted', () => {
  const cursor = new RoomCursor(2);
  cursor.resyncSent(0);
  cursor.historyGap();
  assert.equal(cursor.offer(50, 1), 'deliver');
  assert.equal(cursor.offer(52, 2), 'drop');
});

test('backoff delays stay between the minimum and a cap that doubles up to the maximum', () => {
  const opts = { minDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(0, opts, () => 0.999), 100);
  assert.equal(backoffDelay(2, opts, () => 1), 400);
  assert.equal(backoffDelay(2, opts, () => 0), 100);
  assert.equal(backoffDelay(20, opts, () => 1), 1000);
  for (let attempt = 0; attempt < 40; attempt++) {
    const d = backoffDelay(attempt, opts);
    assert.ok(d >= 100 && d <= 1000, `attempt ${attempt}: ${d}`);
  }
  assert.equal(backoffDelay(0), 250);
});

test('server URLs are accepted as http(s) or ws(s) and lead to /ws/chat', () => {
  assert.equal(httpBaseUrl('ws://example.com:3000/'), 'http://example.com:3000');
  assert.equal(httpBaseUrl('https://example.com/chat/'), 'https://example.com/chat');
  assert.equal(webSocketUrl('https://example.com', '/ws/chat'), 'wss://example.com/ws/chat');
  assert.equal(httpBaseUrl('ws://127.0.0.1:3000/ws/chat'), 'http://127.0.0.1:3000');
  assert.equal(webSocketUrl('ws://127.0.0.1:3000/ws/echo', '/ws/echo'), 'ws://127.0.0.1:3000/ws/echo');
  assert.equal(webSocketUrl('http://127.0.0.1:4000', '/ws/echo'), 'ws://127.0.0.1:4000/ws/echo');
  assert.throws(() => httpBaseUrl('localhost:3000x'), TypeError);
  assert.throws(() => httpBaseUrl('ftp://example.com'), /unsupported URL scheme/);
  assert.throws(() => httpBaseUrl('not a url'), /not a URL/);
});

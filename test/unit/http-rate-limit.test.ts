import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, rateLimitKey } from '../../src/http/rate-limit.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('allows a burst, then refuses with the wait until the next attempt', () => {
  const c = clock();
  const limiter = new RateLimiter({ burst: 3, perMinute: 6, now: c.now });
  assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
  const wait = limiter.take('a');
  assert.equal(wait, 10_000, 'six a minute: one every ten seconds');
  c.advance(wait - 1);
  assert.ok(limiter.take('a') > 0);
  c.advance(10_000);
  assert.equal(limiter.take('a'), 0);
});

test('each key has its own bucket', () => {
  const c = clock();
  const limiter = new RateLimiter({ burst: 1, perMinute: 1, now: c.now });
  assert.equal(limiter.take('198.51.100.1'), 0);
  assert.ok(limiter.take('198.51.100.1') > 0);
  assert.equal(limiter.take('198.51.100.2'), 0);
});

test('refills up to the burst, not beyond', () => {
  const c = clock();
  const limiter = new RateLimiter({ burst: 2, perMinute: 60, now: c.now });
  limiter.take('a');
  limiter.take('a');
  c.advance(3_600_000);
  assert.deepEqual([limiter.take('a'), limiter.take('a')], [0, 0]);
  assert.ok(limiter.take('a') > 0);
});

test('remembers at most maxKeys addresses, forgetting the least recently seen', () => {
  const c = clock();
  const limiter = new RateLimiter({ burst: 1, perMinute: 1, maxKeys: 3, now: c.now });
  for (const key of ['a', 'b', 'c']) limiter.take(key);
  limiter.take('a'); // a is now the most recently seen
  limiter.take('d');
  assert.equal(limiter.size, 3);
  assert.ok(limiter.take('a') > 0, 'a is still remembered and still limited');
  assert.equal(limiter.take('b'), 0, 'b was forgotten, so it starts afresh');
});

test('a clock that goes backwards grants nothing extra', () => {
  const c = clock();
  const limiter = new RateLimiter({ burst: 1, perMinute: 60, now: c.now });
  limiter.take('a');
  c.advance(-60_000);
  assert.ok(limiter.take('a') > 0);
});

test('IPv4 clients are limited per address, IPv6 clients per /64 network', () => {
  assert.equal(rateLimitKey('203.0.113.9'), '203.0.113.9');
  assert.equal(rateLimitKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(rateLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(rateLimitKey('2001:DB8:0001:0002::'), '2001:db8:1:2::/64');
  assert.notEqual(rateLimitKey('2001:db8:1:3::1'), rateLimitKey('2001:db8:1:2::1'));
  assert.equal(rateLimitKey('::1'), '0:0:0:0::/64');
  assert.equal(rateLimitKey('fe80::1'), 'fe80:0:0:0::/64');
  assert.equal(rateLimitKey('64:ff9b::198.51.100.1'), '64:ff9b:0:0::/64');
  assert.equal(rateLimitKey('1:2:3:4:5:6:1.2.3.4'), '1:2:3:4::/64');
  assert.equal(rateLimitKey('unknown'), 'unknown');
});

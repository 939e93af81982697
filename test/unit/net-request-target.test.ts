import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'node:url';
import { originForm } from '../../src/net/request-target.js';

test('an origin-form target is routed as it is', () => {
  for (const target of ['/', '/healthz', '/api/rooms/%E5%A4%A7/messages?after=3&limit=10', '/ws/chat?token=a.b.c', '/rooms/lobby#x', '/a//b', '/%5B']) {
    assert.equal(originForm(target), target);
  }
});

test('an absolute-form target is routed by its path and query', () => {
  assert.equal(originForm('http://example.com/api/me?x=1'), '/api/me?x=1');
  assert.equal(originForm('http://[::1]:3000'), '/');
  assert.equal(originForm('wss://chat.example.com/ws/chat?token=t'), '/ws/chat?token=t');
});

test('a target that URL parsers read as a host, or not at all, is refused', () => {
  for (const target of ['//[', '//%5B', '//example.com/api/me', '/\\example.com', 'http://[::1', 'http://x:99999/', '*', 'example.com:443', 'ftp://x/', '/a b', '/a\tb', '', undefined]) {
    assert.equal(originForm(target), undefined, JSON.stringify(target));
  }
});

test('every target it lets through reads as a path on this server to both of the URL parsers the server uses', () => {
  // A few thousand short targets from characters that URL parsers treat specially.
  const parts = ['/', '//', '\\', '[', ']', '%', '%5B', '%2F', '@', ':', '?', '#', '.', '..', 'a', 'é', '\t', ' ', 'http:', 'x.y'];
  for (const a of parts) for (const b of parts) for (const c of parts) {
    const target = originForm(a + b + c);
    if (target === undefined) continue;
    assert.equal(new URL(target, 'http://parley.invalid').host, 'parley.invalid', JSON.stringify(a + b + c));
    assert.doesNotThrow(() => parse(target), JSON.stringify(a + b + c));
  }
});

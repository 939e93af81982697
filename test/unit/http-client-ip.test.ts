import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { clientIp, parseForwardedAddress, stripMappedIPv4 } from '../../src/net/client-ip.js';

function trust(...entries: string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = addr.includes(':') ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

const none = trust();
const proxy = trust('10.0.0.0/8', '127.0.0.1', 'fd00::/8');

test('IPv4-mapped IPv6 addresses lose their ::ffff: prefix', () => {
  assert.equal(stripMappedIPv4('::ffff:192.168.124.25'), '192.168.124.25');
  assert.equal(stripMappedIPv4('::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(clientIp('::ffff:192.168.124.25', {}, none), '192.168.124.25');
  assert.equal(clientIp('::ffff:7f00:1', {}, none), '::ffff:7f00:1', 'hex form is left alone');
  assert.equal(stripMappedIPv4('::ffff:999.1.1.1'), '::ffff:999.1.1.1', 'not an IPv4 address');
});

test('plain IPv4 and IPv6 peers are reported as they are', () => {
  assert.equal(clientIp('203.0.113.9', {}, none), '203.0.113.9');
  assert.equal(clientIp('2001:db8::7', {}, none), '2001:db8::7');
  assert.equal(clientIp('::1', {}, none), '::1');
  assert.equal(clientIp(undefined, {}, none), 'unknown');
});

test('forwarding headers from an untrusted peer are ignored (spoofing)', () => {
  const headers = { 'x-forwarded-for': '1.1.1.1', 'x-real-ip': '2.2.2.2' };
  assert.equal(clientIp('203.0.113.9', headers, none), '203.0.113.9');
  assert.equal(clientIp('203.0.113.9', headers, proxy), '203.0.113.9', 'peer not in the trusted list');
  assert.equal(clientIp('2001:db8::7', headers, proxy), '2001:db8::7');
});

test('a trusted proxy: the last X-Forwarded-For hop is the client', () => {
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '198.51.100.4' }, proxy), '198.51.100.4');
  assert.equal(clientIp('::ffff:127.0.0.1', { 'x-forwarded-for': '198.51.100.4' }, proxy), '198.51.100.4', 'mapped proxy address');
  assert.equal(clientIp('fd00::1', { 'x-forwarded-for': '2001:db8::42' }, proxy), '2001:db8::42', 'IPv6 proxy and client');
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '::ffff:198.51.100.4' }, proxy), '198.51.100.4');
});

test('a chain: trusted hops are skipped from the right, the first untrusted one is the client', () => {
  // The client wrote a fake 6.6.6.6; nginx appended the real peer, an inner proxy appended nginx.
  const headers = { 'x-forwarded-for': '6.6.6.6, 198.51.100.4, 10.0.0.5' };
  assert.equal(clientIp('10.0.0.2', headers, proxy), '198.51.100.4');
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '6.6.6.6,198.51.100.4,fd00::9,10.0.0.5' }, proxy), '198.51.100.4');
});

test('when every hop is trusted, the leftmost one reached is the client', () => {
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '10.9.9.9, 10.0.0.5' }, proxy), '10.9.9.9');
});

test('garbage in X-Forwarded-For stops the walk; nothing left of it is believed', () => {
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '6.6.6.6, not-an-ip, 10.0.0.5' }, proxy), '10.0.0.5');
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': 'not-an-ip' }, proxy), '10.0.0.2');
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '' }, proxy), '10.0.0.2');
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '1.2.3.4, ' }, proxy), '10.0.0.2', 'empty last hop');
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '<script>' }, proxy), '10.0.0.2');
});

test('X-Real-IP from a trusted proxy is used when X-Forwarded-For is absent or unusable', () => {
  assert.equal(clientIp('127.0.0.1', { 'x-real-ip': '198.51.100.4' }, proxy), '198.51.100.4');
  assert.equal(clientIp('127.0.0.1', { 'x-real-ip': '2001:db8::42' }, proxy), '2001:db8::42');
  assert.equal(clientIp('127.0.0.1', { 'x-forwarded-for': 'junk', 'x-real-ip': '198.51.100.4' }, proxy), '198.51.100.4');
  assert.equal(clientIp('127.0.0.1', { 'x-real-ip': 'evil' }, proxy), '127.0.0.1', 'invalid value ignored');
  assert.equal(clientIp('127.0.0.1', { 'x-forwarded-for': '198.51.100.1', 'x-real-ip': '198.51.100.2' }, proxy), '198.51.100.1', 'X-Forwarded-For wins');
});

test('hops with ports and brackets are understood; zone ids are not addresses', () => {
  assert.equal(parseForwardedAddress(' 198.51.100.4:5123 '), '198.51.100.4');
  assert.equal(parseForwardedAddress('[2001:db8::1]:443'), '2001:db8::1');
  assert.equal(parseForwardedAddress('[2001:db8::1]'), '2001:db8::1');
  assert.equal(parseForwardedAddress('fe80::1%eth0'), undefined);
  assert.equal(parseForwardedAddress('unknown'), undefined);
  assert.equal(parseForwardedAddress('1.2.3.4.5'), undefined);
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': '198.51.100.4:5123' }, proxy), '198.51.100.4');
});

test('repeated X-Forwarded-For headers read as one list', () => {
  assert.equal(clientIp('10.0.0.2', { 'x-forwarded-for': ['198.51.100.4', '10.0.0.5'] as unknown as string }, proxy), '198.51.100.4');
});

/**
 * The address of the client behind a request. Forwarding headers are believed only from
 * configured trusted proxies: anyone else could write any address into them.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isIP, isIPv4, type BlockList } from 'node:net';

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) -> `1.2.3.4`; other addresses unchanged. */
export function stripMappedIPv4(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m && isIPv4(m[1]!) ? m[1]! : address;
}

/**
 * One address from a forwarding header, or undefined when it is not an address.
 * Accepts the forms proxies write: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
 */
export function parseForwardedAddress(raw: string): string | undefined {
  let s = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (bracketed) s = bracketed[1]!;
  else {
    const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
    if (withPort) s = withPort[1]!;
  }
  // A zone id (fe80::1%eth0) names an interface of the proxy, not a client address.
  if (s.includes('%')) return undefined;
  return isIP(s) === 0 ? undefined : stripMappedIPv4(s);
}

/** Whether the peer is a configured proxy whose forwarding headers may be believed. */
export function isTrustedPeer(remoteAddress: string | undefined, trusted: BlockList): boolean {
  return remoteAddress !== undefined && isTrusted(stripMappedIPv4(remoteAddress), trusted);
}

function isTrusted(address: string, trusted: BlockList): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The client's IP. From an untrusted peer: the peer's own address. From a trusted proxy: the
 * X-Forwarded-For list walked from the right, skipping trusted hops, the first untrusted hop
 * being the client (if every hop is trusted, the leftmost one reached); without a usable
 * X-Forwarded-For, a valid X-Real-IP; else the peer's address.
 */
export function clientIp(remoteAddress: string | undefined, headers: IncomingHttpHeaders, trusted: BlockList): string {
  if (!remoteAddress) return 'unknown';
  const peer = stripMappedIPv4(remoteAddress);
  if (!isTrusted(peer, trusted)) return peer;

  const forwarded = headerText(headers['x-forwarded-for']);
  if (forwarded) {
    const hops = forwarded.split(',');
    let reached: string | undefined;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseForwardedAddress(hops[i]!);
      // Garbage means nothing further left can be believed: stop at the last good hop.
      if (hop === undefined) break;
      if (!isTrusted(hop, trusted)) return hop;
      reached = hop;
    }
    if (reached !== undefined) return reached;
  }

  const realIp = headerText(headers['x-real-ip']);
  if (realIp) {
    const address = parseForwardedAddress(realIp);
    if (address !== undefined) return address;
  }
  return peer;
}

// Who the client is: the TCP peer, unless the peer is a trusted proxy, in which case X-Forwarded-For is walked
// from the right past every trusted hop (the rightmost untrusted entry is the first one a proxy of ours added).
import type { BlockList } from 'node:net';
import { isIP } from 'node:net';

/** The peer's address without the IPv4-mapped IPv6 prefix ("::ffff:10.0.0.1" → "10.0.0.1"). */
export function peerAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

export function isTrusted(trusted: BlockList | undefined, address: string): boolean {
  if (!trusted || address === '') return false;
  const family = isIP(address);
  return family !== 0 && trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trusted: BlockList | undefined): string {
  if (!trusted || forwardedFor === undefined || !isTrusted(trusted, peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (isIP(hop) === 0) return peer; // garbage in the chain: fall back to what we saw ourselves
    if (!isTrusted(trusted, hop)) return hop;
  }
  return hops[0]!.trim();
}

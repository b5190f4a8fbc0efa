// Address lists compiled once per snapshot: server.trustedProxies and the ip-restriction plugin's allow/deny.
import { BlockList, isIPv6 } from 'node:net';

/** Addresses and CIDR ranges ("10.0.0.0/8", "2001:db8::/32", "::1"); the config checks validated them. */
export function compileAddressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const family = isIPv6(address!) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address!, family);
    else list.addSubnet(address!, Number(bits), family);
  }
  return list;
}

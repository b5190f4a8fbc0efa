// Addresses as written in config: listen addresses ("host:port", "[v6]:port" or ":port") and IPs or CIDR ranges.
import { isIP } from 'node:net';

export interface ListenAddress {
  /** Lower-case host without IPv6 brackets; '' means every interface. */
  host: string;
  /** 0 asks the OS for any free port. */
  port: number;
}

const ADDRESS = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/;

/**
 * Splits a listen address; undefined when it is not one.
 *
 * @example
 * parseListenAddress('[::1]:8080'); // { host: '::1', port: 8080 }
 * parseListenAddress(':8080');      // { host: '', port: 8080 }
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = ADDRESS.exec(text);
  if (!m) return undefined;
  return { host: (m[1] ?? m[2] ?? '').toLowerCase(), port: Number(m[3]) };
}

/** True for hosts that bind every interface: '', 0.0.0.0 and :: (which is dual-stack on most systems). */
export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/** True when two listeners could not both bind: the same port on the same host, or a wildcard host on that port. */
export function addressesOverlap(a: ListenAddress, b: ListenAddress): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  return a.host === b.host || isWildcardHost(a.host) || isWildcardHost(b.host);
}

/** "10.0.0.0/8", "192.168.1.10", "2001:db8::/32", "::1". */
export function isIpOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash === -1) return true;
  const bits = text.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

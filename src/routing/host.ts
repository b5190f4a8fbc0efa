// Host names on both sides of routing: the request's Host header reduced to a lookup key, and the route's
// `match.host` patterns parsed into exact names and leading wildcards.

const OPEN_BRACKET = 0x5b; // "["
const DOT = 0x2e; // "."

/**
 * The routing key for a Host header: lower-cased, without ":port" and without a trailing root dot
 * ("Example.COM.:8080" → "example.com"). An IPv6 literal keeps its brackets ("[::1]:8080" → "[::1]").
 * Absent or empty gives "".
 *
 * @example
 * hostWithoutPort('API.Example.com:8443'); // "api.example.com"
 * hostWithoutPort('[::1]:8080');           // "[::1]"
 */
export function hostWithoutPort(hostHeader: string | undefined): string {
  if (hostHeader === undefined || hostHeader.length === 0) return '';
  let end = hostHeader.length;
  if (hostHeader.charCodeAt(0) === OPEN_BRACKET) {
    const close = hostHeader.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = hostHeader.indexOf(':');
    // One colon is "name:port"; several without brackets is a bare IPv6 literal, kept whole.
    if (colon !== -1 && hostHeader.indexOf(':', colon + 1) === -1) end = colon;
  }
  // RFC 1034 §3.1: "example.com." is the same name as "example.com" (nginx drops the dot too).
  if (end > 0 && hostHeader.charCodeAt(end - 1) === DOT) end--;
  return (end === hostHeader.length ? hostHeader : hostHeader.slice(0, end)).toLowerCase();
}

/** A parsed `match.host` entry. A wildcard's `suffix` has no leading "*." ("*.example.com" → "example.com"). */
export type HostPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly name: string }
  | { readonly kind: 'wildcard'; readonly suffix: string };

/** Parses one `match.host` entry; "*" alone means any host. Throws on a "*" anywhere but a leading "*." label. */
export function parseHostPattern(pattern: string): HostPattern {
  const host = hostWithoutPort(pattern.trim());
  if (host === '*') return { kind: 'any' };
  if (host.startsWith('*.')) {
    const suffix = host.slice(2);
    if (suffix.length > 0 && !suffix.includes('*') && !suffix.startsWith('.')) return { kind: 'wildcard', suffix };
  } else if (host.length > 0 && !host.includes('*')) {
    return { kind: 'exact', name: host };
  }
  throw new Error(
    `host "${pattern}" is not a host name or a leading wildcard: use "api.example.com" or "*.example.com"`,
  );
}

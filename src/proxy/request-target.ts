// The request target, split and normalised before routing, so "/api/../admin" cannot reach a route that
// "/admin" would not (RFC 3986 §5.2.4 dot-segment removal, percent-encoded dots included). What routing sees is
// what the upstream gets: a path that would still mean something else to an upstream that decodes "%2f", "\"
// or ";" before resolving dot-segments is refused rather than guessed at.

export interface RequestTarget {
  path: string;
  /** Everything after "?", raw; "" when absent. */
  query: string;
  /** Host (and port) of an absolute-form target, which takes precedence over Host; undefined for origin-form. */
  authority: string | undefined;
}

/**
 * Splits origin-form or absolute-form targets; undefined for anything else (asterisk-form, authority-form,
 * garbage) and for paths Sluice refuses to route (an encoded NUL, a dot-segment hidden behind an encoding).
 *
 * @example
 * parseRequestTarget('/api/%2e%2e/admin?x=1') // { path: '/admin', query: 'x=1', authority: undefined }
 */
export function parseRequestTarget(url: string): RequestTarget | undefined {
  if (url.charCodeAt(0) === 47 /* / */) return originForm(url, undefined);
  // absolute-form (RFC 9112 §3.2.2), as sent to proxies: keep the authority, forward path and query only
  const scheme = schemeLength(url);
  if (scheme < 0) return undefined;
  let end = scheme;
  while (end < url.length && !AUTHORITY_END.has(url.charCodeAt(end))) end++;
  const authority = url.slice(scheme, end);
  if (!isValidAuthority(authority)) return undefined;
  const rest = url.slice(end);
  return originForm(rest.charCodeAt(0) === 47 ? rest : '/' + rest, authority);
}

function originForm(url: string, authority: string | undefined): RequestTarget | undefined {
  const hash = url.indexOf('#');
  let q = url.indexOf('?');
  if (hash >= 0 && q > hash) q = -1; // a "?" inside the fragment starts no query
  const end = q >= 0 ? q : hash;
  const raw = end < 0 ? url : url.slice(0, end);
  const path = needsNormalising(raw) ? removeDotSegments(raw) : raw;
  if (mayHideSomething(path) && (path.includes('%00') || hidesDotSegment(path))) return undefined;
  const query = q < 0 ? '' : hash < 0 ? url.slice(q + 1) : url.slice(q + 1, hash);
  return { path, query, authority };
}

const AUTHORITY_END = new Set([47 /* / */, 63 /* ? */, 35 /* # */]);

/** "http://" or "https://", case-insensitive (RFC 3986 §3.1); -1 for any other scheme. */
function schemeLength(url: string): number {
  const head = url.slice(0, 8).toLowerCase();
  return head.startsWith('http://') ? 7 : head === 'https://' ? 8 : -1;
}

/**
 * RFC 9110 §7.2 / RFC 3986 §3.2: uri-host [":" port], for Host values and absolute-form authorities. Userinfo
 * ("user@host") is refused (RFC 9110 §4.2.4), as is anything a later hop could split differently.
 */
export function isValidAuthority(value: string): boolean {
  return AUTHORITY.test(value);
}

// IP-literal, or a reg-name / IPv4 address (unreserved, pct-encoded and sub-delims), then an optional port.
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{0,5})?$/;

function needsNormalising(path: string): boolean {
  return path.includes('/.') || path.includes('%2e') || path.includes('%2E');
}

/** RFC 3986 §5.2.4, on whole segments; "%2e" counts as "." because many upstreams decode before routing. */
export function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const dots = seg.replace(/%2e/gi, '.');
    if (dots === '.') {
      if (i === segments.length - 1) out.push('');
    } else if (dots === '..') {
      out.pop();
      if (i === segments.length - 1) out.push('');
    } else {
      out.push(seg);
    }
  }
  return '/' + out.join('/');
}

/** Cheap gate for the slower checks below: only these characters can hide a NUL or a dot-segment. */
function mayHideSomething(path: string): boolean {
  return path.includes('%') || path.includes('\\') || path.includes(';');
}

/**
 * A dot-segment left after removeDotSegments is hidden from it: behind "%2f"/"%5c" or "\" (which many servers,
 * and WHATWG URL parsers, read as "/"), or behind a ";param" (Tomcat reads "..;" as ".."). Forwarding such a
 * path would let "/api/..%2fadmin" leave the /api route on the upstream, so it is refused instead.
 */
function hidesDotSegment(path: string): boolean {
  for (const seg of path.split(/\/|\\|%2f|%5c/i)) {
    const semi = seg.indexOf(';');
    const name = (semi < 0 ? seg : seg.slice(0, semi)).replace(/%2e/gi, '.');
    if (name === '.' || name === '..') return true;
  }
  return false;
}

/** The target as forwarded upstream: the (rewritten) path plus the untouched query. */
export function upstreamTarget(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

// The request target, split and normalised before routing, so "/api/../admin" cannot reach a route that
// "/admin" would not (RFC 3986 §5.2.4 dot-segment removal, percent-encoded dots included).

export interface RequestTarget {
  path: string;
  /** Everything after "?", raw; "" when absent. */
  query: string;
}

/** Splits origin-form or absolute-form targets; undefined for anything else (asterisk-form, garbage). */
export function parseRequestTarget(url: string): RequestTarget | undefined {
  let start = 0;
  if (url.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (RFC 9112 §3.2.2), sent to proxies: keep only path and query
    const scheme = url.startsWith('http://') ? 7 : url.startsWith('https://') ? 8 : -1;
    if (scheme < 0) return undefined;
    start = url.indexOf('/', scheme);
    if (start < 0) return { path: '/', query: queryOf(url, url.indexOf('?', scheme)) };
  }
  let end = url.indexOf('?', start);
  const hash = url.indexOf('#', start);
  if (hash >= 0 && (end < 0 || hash < end)) end = hash;
  const raw = end < 0 ? (start === 0 ? url : url.slice(start)) : url.slice(start, end);
  const path = needsNormalising(raw) ? removeDotSegments(raw) : raw;
  return { path, query: queryOf(url, url.indexOf('?', start)) };
}

function queryOf(url: string, q: number): string {
  if (q < 0) return '';
  const hash = url.indexOf('#', q);
  return hash < 0 ? url.slice(q + 1) : url.slice(q + 1, hash);
}

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

/** The target as forwarded upstream: the (rewritten) path plus the untouched query. */
export function upstreamTarget(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

// The route matcher: picks the route for a request from host, path, method, headers and query.
//
// Semantics (docs/routing.md is written from this comment):
//
// Host (`match.host`, one name or a list; ports and a trailing "." are ignored, case does not matter)
//   - absent, or "*": any host.
//   - "api.example.com": exactly that host.
//   - "*.example.com": one or more labels before ".example.com" ("a.example.com", "a.b.example.com"), never
//     "example.com" itself.
// Path (at most one of these; none means `pathPrefix: "/"`)
//   - `path`: the whole path, exactly.
//   - `pathPrefix`: a prefix on segment boundaries. "/api" matches "/api", "/api/" and "/api/x", not "/apix".
//     A prefix ending in "/" ("/api/") matches paths starting with "/api/", not "/api". "/" matches every path.
//   - `pathRegex`: a regular expression that must match the whole path (compiled as ^(?:re)$).
// Methods: a list, compared exactly ("GET" does not imply "HEAD"); absent means any method.
// Headers and query: name → "value" (exact) or { exact } | { prefix } | { regex } (whole value) | { present }.
//   Header names are case-insensitive, values are not. When node:http hands over several values (an array, as for
//   set-cookie) any one may match; other repeated headers arrive joined with ", " and are matched as one value.
//   Query parameters are decoded with URLSearchParams (so "?q=a%20b" and "?q=a+b" both give "a b"); names are
//   case-sensitive, a repeated parameter matches if any of its values does. `{ present: false }` requires the
//   header or parameter to be absent.
//
// Precedence: the most specific route wins, then the one declared first.
//   1. Host bucket: exact host > wildcard with the longer suffix > shorter wildcard > any host. If no route of the
//      most specific bucket matches (path or predicates), the next less specific bucket is tried, down to the
//      any-host routes: a catch-all still serves a host whose own routes do not cover the path.
//   2. Within a bucket, path: exact > prefix (longest first, "/" last) > regex (in declared order). A `pathPrefix:
//      "/"` route (or one without a path) is therefore tried before every regex route of the same bucket.
//   3. Routes with the same path spec: the more specific first: 2 per header or query predicate, + 1 if methods given.
//   4. Then declared order.
//
// Cost: everything is compiled once. A match does Map lookups for the host, its wildcard suffixes and the exact
// path, one walk down a radix tree of prefixes (each path character compared at most once), and runs regexes
// only for regex routes. The query string is parsed only when a route with query predicates is reached, at most
// once per request. A route with no predicates is accepted at once. Nothing is allocated per match, except a
// slice of the host for each wildcard suffix length that is configured, and the query parsing when needed.
import { CompiledMatch, QueryCache } from './compiled-match.ts';
import { PathIndex } from './path-index.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteMatchConfig } from '../config/schema.ts';

export { hostWithoutPort } from './host.ts';

/** What the matcher looks at. The proxy builds it once per request. */
export interface RouteRequest {
  /** Upper-case as received. */
  method: string;
  /** Lower-cased host without port ("" when absent): see hostWithoutPort. */
  host: string;
  /** Normalized path without the query; starts with "/". */
  path: string;
  /** Raw query string after "?" ("" when none), not decoded. */
  query: string;
  /** Lower-case names, as node:http gives them. */
  headers: IncomingHttpHeaders;
}

/** An immutable set of compiled routes. */
export interface RouteTable<T> {
  /** The value of the route that serves `req`, or undefined when none does. */
  match(req: RouteRequest): T | undefined;
}

/**
 * Compiles route matches into a table; `value` is what `match` returns (a route, its chain, anything).
 * Throws an Error naming the entry (by index) on a bad regex or host pattern.
 *
 * @example
 * const table = compileRouteTable([
 *   { match: { pathPrefix: '/api' }, value: 'api' },
 *   { match: { path: '/api/health' }, value: 'health' },
 * ]);
 * table.match({ method: 'GET', host: '', path: '/api/health', query: '', headers: {} }); // "health"
 */
export function compileRouteTable<T>(
  entries: ReadonlyArray<{ match: RouteMatchConfig; value: T }>,
): RouteTable<T> {
  const routes = entries.map((entry, order) => new CompiledMatch(entry.match, entry.value, order));
  return new HostRouteTable(routes);
}

/** Routes grouped into host buckets, each bucket a PathIndex. */
class HostRouteTable<T> implements RouteTable<T> {
  readonly #exact = new Map<string, PathIndex<T>>();
  /** Keyed by the suffix after "*." ("example.com"). */
  readonly #wildcards = new Map<string, PathIndex<T>>();
  /** wildcardLengths[n] is 1 when some wildcard suffix is n long: other host suffixes are not even sliced. */
  readonly #wildcardLengths: Uint8Array;
  readonly #any: PathIndex<T> | null;
  readonly #query = new QueryCache();

  constructor(routes: ReadonlyArray<CompiledMatch<T>>) {
    const exact = new Map<string, CompiledMatch<T>[]>();
    const wildcards = new Map<string, CompiledMatch<T>[]>();
    const any: CompiledMatch<T>[] = [];
    for (const route of routes) {
      for (const host of route.hosts) {
        if (host.kind === 'any') any.push(route);
        else if (host.kind === 'exact') pushTo(exact, host.name, route);
        else pushTo(wildcards, host.suffix, route);
      }
    }
    let maxSuffix = 0;
    for (const [name, list] of exact) this.#exact.set(name, new PathIndex(list));
    for (const [suffix, list] of wildcards) {
      this.#wildcards.set(suffix, new PathIndex(list));
      maxSuffix = Math.max(maxSuffix, suffix.length);
    }
    this.#wildcardLengths = new Uint8Array(maxSuffix + 1);
    for (const suffix of wildcards.keys()) this.#wildcardLengths[suffix.length] = 1;
    this.#any = any.length > 0 ? new PathIndex(any) : null;
  }

  match(req: RouteRequest): T | undefined {
    const host = req.host;
    const query = this.#query;
    let found: CompiledMatch<T> | undefined;
    if (this.#exact.size > 0) {
      const index = this.#exact.get(host);
      if (index !== undefined && (found = index.match(req, query)) !== undefined) return found.value;
    }
    if (this.#wildcards.size > 0 && (found = this.#matchWildcards(host, req)) !== undefined) return found.value;
    return this.#any?.match(req, query)?.value;
  }

  /** Walks the host's suffixes after each dot, longest first: "a.b.example.com" tries "b.example.com" first. */
  #matchWildcards(host: string, req: RouteRequest): CompiledMatch<T> | undefined {
    const lengths = this.#wildcardLengths;
    // The first label must not be empty: ".example.com" is not "*.example.com".
    let dot = host.indexOf('.', 1);
    while (dot !== -1) {
      const length = host.length - dot - 1;
      if (length < lengths.length && lengths[length] === 1) {
        const found = this.#wildcards.get(host.slice(dot + 1))?.match(req, this.#query);
        if (found !== undefined) return found;
      }
      dot = host.indexOf('.', dot + 1);
    }
    return undefined;
  }
}

function pushTo<T>(map: Map<string, CompiledMatch<T>[]>, key: string, route: CompiledMatch<T>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else list.push(route);
}

// The routes of one host bucket, indexed by path: exact paths in a Map, prefixes in a radix tree walked once
// along the path, regexes in a list. Lookup order is the precedence: exact > longer prefix > shorter prefix >
// "/" > regex.
import type { CompiledMatch, QueryCache } from './compiled-match.ts';
import { PrefixTrie } from './prefix-trie.ts';
import type { RouteRequest } from './route-table.ts';

/** Routes sharing one path spec, most predicates first, then declared order. */
type RouteList<T> = CompiledMatch<T>[];

interface RegexEntry<T> {
  readonly re: RegExp;
  readonly routes: RouteList<T>;
}

function compareRoutes<T>(a: CompiledMatch<T>, b: CompiledMatch<T>): number {
  return b.specificity - a.specificity || a.order - b.order;
}

/** The first route of `routes` whose predicates accept the request. */
function firstAccepting<T>(routes: RouteList<T>, req: RouteRequest, query: QueryCache): CompiledMatch<T> | undefined {
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    if (route.unconditional || route.accepts(req, query)) return route;
  }
  return undefined;
}

/** The routes of one host bucket, looked up by path. Built once per snapshot; read-only afterwards. */
export class PathIndex<T> {
  readonly #exact = new Map<string, RouteList<T>>();
  /** Prefixes other than "/"; null when there are none. */
  readonly #prefixes: PrefixTrie<RouteList<T>> | null;
  /** Scratch for the prefixes of one path; match() is synchronous and never re-entered. */
  readonly #candidates: RouteList<T>[] = [];
  /** The prefix "/" (and routes without a path spec): matches every path, so no lookup at all. */
  readonly #root: RouteList<T> = [];
  readonly #regexes: RegexEntry<T>[] = [];

  constructor(routes: ReadonlyArray<CompiledMatch<T>>) {
    const prefixes = new Map<string, RouteList<T>>();
    const regexes = new Map<string, RegexEntry<T>>();
    for (const route of routes) {
      const spec = route.path;
      if (spec.kind === 'exact') pushTo(this.#exact, spec.path, route);
      else if (spec.kind === 'prefix' && spec.prefix === '/') this.#root.push(route);
      else if (spec.kind === 'prefix') pushTo(prefixes, spec.prefix, route);
      else {
        let entry = regexes.get(spec.source);
        if (entry === undefined) {
          entry = { re: spec.re, routes: [] };
          regexes.set(spec.source, entry); // Map keeps insertion order: regexes stay in declared order.
          this.#regexes.push(entry);
        }
        entry.routes.push(route);
      }
    }
    for (const list of this.#exact.values()) list.sort(compareRoutes);
    for (const list of prefixes.values()) list.sort(compareRoutes);
    this.#root.sort(compareRoutes);
    for (const entry of this.#regexes) entry.routes.sort(compareRoutes);
    this.#prefixes = prefixes.size > 0 ? new PrefixTrie(prefixes) : null;
  }

  match(req: RouteRequest, query: QueryCache): CompiledMatch<T> | undefined {
    const path = req.path;
    let found: CompiledMatch<T> | undefined;
    if (this.#exact.size > 0) {
      const exact = this.#exact.get(path);
      if (exact !== undefined && (found = firstAccepting(exact, req, query)) !== undefined) return found;
    }
    if (this.#prefixes !== null) {
      const candidates = this.#candidates;
      // Longest prefix first; a prefix whose routes all refuse the request gives way to the next shorter one.
      for (let i = this.#prefixes.collect(path, candidates) - 1; i >= 0; i--) {
        if ((found = firstAccepting(candidates[i]!, req, query)) !== undefined) return found;
      }
    }
    if (this.#root.length > 0 && (found = firstAccepting(this.#root, req, query)) !== undefined) return found;
    for (let i = 0; i < this.#regexes.length; i++) {
      const entry = this.#regexes[i]!;
      if (entry.re.test(path) && (found = firstAccepting(entry.routes, req, query)) !== undefined) return found;
    }
    return undefined;
  }
}

function pushTo<T>(map: Map<string, RouteList<T>>, key: string, route: CompiledMatch<T>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else list.push(route);
}

// The routes of one host bucket, indexed by path: exact paths in a Map, prefixes in a Map keyed by a hash of the
// prefix (so the request path's segment-boundary prefixes are looked up without slicing a string for each one),
// regexes in a list. Lookup order is the precedence: exact > longer prefix > shorter prefix > "/" > regex.
import type { CompiledRoute, QueryCache } from './compiled-route.ts';
import type { RouteRequest } from './route-table.ts';

const SLASH = 0x2f;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/** Map keys are cut to 30 bits so they stay small integers (Smis): a wider key would be boxed on every lookup. */
const KEY_MASK = 0x3fffffff;

/** Routes sharing one path spec, most predicates first, then declared order. */
type RouteList<T> = CompiledRoute<T>[];

interface PrefixEntry<T> {
  readonly prefix: string;
  readonly routes: RouteList<T>;
}

interface RegexEntry<T> {
  readonly re: RegExp;
  readonly routes: RouteList<T>;
}

/** FNV-1a over UTF-16 code units, as a Map key; the request path is hashed the same way, one unit at a time. */
function prefixKey(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h & KEY_MASK;
}

// Scratch space for the candidate prefixes of one path (hash and length of each). match() is synchronous and
// never re-entered, so one pair of buffers serves every index; they grow for unusually deep paths.
let candidateHashes = new Int32Array(64);
let candidateLengths = new Int32Array(64);

function growCandidates(): void {
  const hashes = new Int32Array(candidateHashes.length * 2);
  const lengths = new Int32Array(candidateLengths.length * 2);
  hashes.set(candidateHashes);
  lengths.set(candidateLengths);
  candidateHashes = hashes;
  candidateLengths = lengths;
}

function compareRoutes<T>(a: CompiledRoute<T>, b: CompiledRoute<T>): number {
  return b.specificity - a.specificity || a.order - b.order;
}

/** The first route of `routes` whose predicates accept the request. */
function firstAccepting<T>(routes: RouteList<T>, req: RouteRequest, query: QueryCache): CompiledRoute<T> | undefined {
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    if (route.unconditional || route.accepts(req, query)) return route;
  }
  return undefined;
}

/** The routes of one host bucket, looked up by path. Built once per snapshot; read-only afterwards. */
export class PathIndex<T> {
  readonly #exact = new Map<string, RouteList<T>>();
  /** Prefixes other than "/", keyed by prefixKey(prefix); a hash collision only costs a startsWith. */
  readonly #prefixes = new Map<number, PrefixEntry<T>[]>();
  /** prefixLengths[n] is 1 when some prefix is n code units long, so other candidate lengths are skipped. */
  readonly #prefixLengths: Uint8Array;
  readonly #maxPrefixLength: number;
  /** The prefix "/" (and routes without a path spec): matches every path, so no lookup at all. */
  readonly #root: RouteList<T> = [];
  readonly #regexes: RegexEntry<T>[] = [];

  constructor(routes: ReadonlyArray<CompiledRoute<T>>) {
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
    this.#root.sort(compareRoutes);
    for (const entry of this.#regexes) entry.routes.sort(compareRoutes);

    let maxLength = 0;
    for (const prefix of prefixes.keys()) maxLength = Math.max(maxLength, prefix.length);
    this.#maxPrefixLength = maxLength;
    this.#prefixLengths = new Uint8Array(maxLength + 1);
    for (const [prefix, list] of prefixes) {
      list.sort(compareRoutes);
      this.#prefixLengths[prefix.length] = 1;
      const hash = prefixKey(prefix);
      const bucket = this.#prefixes.get(hash);
      if (bucket === undefined) this.#prefixes.set(hash, [{ prefix, routes: list }]);
      else bucket.push({ prefix, routes: list });
    }
  }

  match(req: RouteRequest, query: QueryCache): CompiledRoute<T> | undefined {
    const path = req.path;
    let found: CompiledRoute<T> | undefined;
    if (this.#exact.size > 0) {
      const exact = this.#exact.get(path);
      if (exact !== undefined && (found = firstAccepting(exact, req, query)) !== undefined) return found;
    }
    if (this.#maxPrefixLength > 0 && (found = this.#matchPrefix(path, req, query)) !== undefined) return found;
    if (this.#root.length > 0 && (found = firstAccepting(this.#root, req, query)) !== undefined) return found;
    for (let i = 0; i < this.#regexes.length; i++) {
      const entry = this.#regexes[i]!;
      if (entry.re.test(path) && (found = firstAccepting(entry.routes, req, query)) !== undefined) return found;
    }
    return undefined;
  }

  /**
   * Hashes the path once, left to right, recording each segment-boundary prefix that some configured prefix is
   * as long as: before every "/" ("/api" of "/api/x"), through every "/" ("/api/"), and the whole path. Then
   * tries them longest first.
   */
  #matchPrefix(path: string, req: RouteRequest, query: QueryCache): CompiledRoute<T> | undefined {
    const lengths = this.#prefixLengths;
    const maxLength = this.#maxPrefixLength;
    const end = path.length;
    let count = 0;
    let hash = FNV_OFFSET;
    let previous = 0;
    for (let i = 0; i < end && i <= maxLength; i++) {
      const c = path.charCodeAt(i);
      if (c === SLASH) {
        // A prefix ending just before this "/". After another "/" that is the slash prefix recorded already.
        if (i > 0 && previous !== SLASH && lengths[i] === 1) {
          if (count === candidateHashes.length) growCandidates();
          candidateHashes[count] = hash & KEY_MASK;
          candidateLengths[count++] = i;
        }
        hash = Math.imul(hash ^ c, FNV_PRIME);
        if (i + 1 <= maxLength && lengths[i + 1] === 1) {
          if (count === candidateHashes.length) growCandidates();
          candidateHashes[count] = hash & KEY_MASK;
          candidateLengths[count++] = i + 1;
        }
      } else {
        hash = Math.imul(hash ^ c, FNV_PRIME);
      }
      previous = c;
    }
    // The whole path is a candidate unless it ends in "/" (then it was recorded as a slash prefix above).
    if (end <= maxLength && previous !== SLASH && lengths[end] === 1) {
      if (count === candidateHashes.length) growCandidates();
      candidateHashes[count] = hash & KEY_MASK;
      candidateLengths[count++] = end;
    }
    for (let c = count - 1; c >= 0; c--) {
      const entries = this.#prefixes.get(candidateHashes[c]!);
      if (entries === undefined) continue;
      const length = candidateLengths[c]!;
      for (let e = 0; e < entries.length; e++) {
        const entry = entries[e]!;
        if (entry.prefix.length !== length || !startsWithPrefix(path, entry.prefix)) continue;
        const found = firstAccepting(entry.routes, req, query);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }
}

/** path.startsWith(prefix), hand-rolled: V8's builtin costs more than this loop for the short prefixes of routes. */
function startsWithPrefix(path: string, prefix: string): boolean {
  // From the end: prefixes that share a hash and length most likely differ in their last segment.
  for (let i = prefix.length - 1; i >= 0; i--) if (path.charCodeAt(i) !== prefix.charCodeAt(i)) return false;
  return true;
}

function pushTo<T>(map: Map<string, RouteList<T>>, key: string, route: CompiledRoute<T>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else list.push(route);
}

// One route's `match` compiled once: its host patterns and path spec (used to place it in the indexes) and its
// method, header, query and cookie predicates (checked per request, cheapest first).
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteMatchConfig, StringMatchConfig } from '../config/schema.ts';
import { compileAnchoredRegex } from './anchored-regex.ts';
import { parseHostPattern, type HostPattern } from './host.ts';
import type { RouteRequest } from './route-table.ts';

const EXACT = 0;
const PREFIX = 1;
const REGEX = 2;
const PRESENT = 3;

/**
 * One header or query predicate. All kinds share this one shape so the loop over predicates stays monomorphic.
 * `text` is the exact value or the prefix; `present` is what a `{ present }` predicate demands.
 */
interface ValuePredicate {
  readonly name: string;
  readonly kind: number;
  readonly text: string;
  readonly re: RegExp | null;
  readonly present: boolean;
}

/** Where a route sits in the path index. A missing path spec is the prefix "/". */
export type PathSpec =
  | { readonly kind: 'exact'; readonly path: string }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'regex'; readonly source: string; readonly re: RegExp };

/**
 * Parses the query string and the Cookie header at most once per request, and only when a candidate route has
 * query or cookie predicates. Keeping the last parse also spares the work when the same text comes again.
 */
export class QueryCache {
  #raw = '';
  #params: URLSearchParams | null = null;
  #rawCookies: string | undefined = undefined;
  #cookies: Map<string, string> | null = null;

  params(raw: string): URLSearchParams {
    if (this.#params === null || raw !== this.#raw) {
      this.#params = new URLSearchParams(raw);
      this.#raw = raw;
    }
    return this.#params;
  }

  /**
   * RFC 6265 §5.4's Cookie header, `name=value; name2=value2`: the first value of a repeated name wins (user agents
   * send the most specific path first); values keep their bytes, a quoted value its quotes.
   */
  cookies(raw: string | undefined): Map<string, string> {
    if (this.#cookies === null || raw !== this.#rawCookies) {
      const cookies = new Map<string, string>();
      if (raw !== undefined) {
        for (const pair of raw.split(';')) {
          const eq = pair.indexOf('=');
          if (eq <= 0) continue;
          const name = pair.slice(0, eq).trim();
          if (name !== '' && !cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim());
        }
      }
      this.#cookies = cookies;
      this.#rawCookies = raw;
    }
    return this.#cookies;
  }
}

/**
 * A route ready for matching. `specificity`: 2 per header, query or cookie predicate, plus 1 when methods are given — a
 * predicate on the request's content (a canary header) outranks a mere method restriction on the same path.
 */
export class CompiledMatch<T> {
  readonly value: T;
  readonly order: number;
  readonly hosts: readonly HostPattern[];
  readonly path: PathSpec;
  readonly specificity: number;
  /** True when nothing but host and path is checked: such a route matches with no further work. */
  readonly unconditional: boolean;
  readonly #methods: readonly string[] | null;
  readonly #headers: readonly ValuePredicate[] | null;
  readonly #query: readonly ValuePredicate[] | null;
  readonly #cookies: readonly ValuePredicate[] | null;

  constructor(match: RouteMatchConfig, value: T, order: number) {
    const where = `route #${order}`;
    this.value = value;
    this.order = order;
    this.hosts = compileHosts(match.host, where);
    this.path = compilePath(match, where);
    this.#methods = compileMethods(match.methods, where);
    this.#headers = compilePredicates(match.headers, `${where} headers`, true);
    this.#query = compilePredicates(match.query, `${where} query`, false);
    this.#cookies = compilePredicates(match.cookies, `${where} cookies`, false);
    this.specificity =
      (this.#methods === null ? 0 : 1) + 2 * ((this.#headers?.length ?? 0) + (this.#query?.length ?? 0) + (this.#cookies?.length ?? 0));
    this.unconditional = this.specificity === 0;
  }

  /** Checks methods, then headers, then the query and cookies (parsed only if this route gets that far). */
  accepts(req: RouteRequest, queryCache: QueryCache): boolean {
    if (this.#methods !== null && !this.#methods.includes(req.method)) return false;
    const headers = this.#headers;
    if (headers !== null) {
      for (let i = 0; i < headers.length; i++) if (!headerMatches(headers[i]!, req.headers)) return false;
    }
    const query = this.#query;
    if (query !== null) {
      const params = queryCache.params(req.query);
      for (let i = 0; i < query.length; i++) if (!queryMatches(query[i]!, params)) return false;
    }
    const cookies = this.#cookies;
    if (cookies !== null) {
      const jar = queryCache.cookies(req.headers.cookie);
      for (let i = 0; i < cookies.length; i++) if (!cookieMatches(cookies[i]!, jar)) return false;
    }
    return true;
  }
}

function headerMatches(p: ValuePredicate, headers: IncomingHttpHeaders): boolean {
  const value = headers[p.name];
  if (value === undefined) return p.kind === PRESENT && !p.present;
  if (p.kind === PRESENT) return p.present;
  if (typeof value === 'string') return valueMatches(p, value);
  // node:http gives an array only for headers it does not join (set-cookie): any one value may match.
  for (let i = 0; i < value.length; i++) if (valueMatches(p, value[i]!)) return true;
  return false;
}

function queryMatches(p: ValuePredicate, params: URLSearchParams): boolean {
  if (p.kind === PRESENT) return params.has(p.name) === p.present;
  if (!params.has(p.name)) return false;
  // A repeated parameter (?tag=a&tag=b) matches if any of its values does.
  const values = params.getAll(p.name);
  for (let i = 0; i < values.length; i++) if (valueMatches(p, values[i]!)) return true;
  return false;
}

function cookieMatches(p: ValuePredicate, jar: Map<string, string>): boolean {
  const value = jar.get(p.name);
  if (p.kind === PRESENT) return (value !== undefined) === p.present;
  return value !== undefined && valueMatches(p, value);
}

function valueMatches(p: ValuePredicate, value: string): boolean {
  switch (p.kind) {
    case EXACT:
      return value === p.text;
    case PREFIX:
      return value.startsWith(p.text);
    case REGEX:
      return p.re!.test(value);
    default:
      return p.present;
  }
}

function compileHosts(host: string | string[] | undefined, where: string): readonly HostPattern[] {
  if (host === undefined) return [{ kind: 'any' }];
  const list = typeof host === 'string' ? [host] : host;
  if (list.length === 0) throw new Error(`${where}: host lists no names; leave it out to match any host`);
  const seen = new Set<string>();
  const patterns: HostPattern[] = [];
  for (const entry of list) {
    const pattern = parseHostPattern(entry);
    const key = pattern.kind === 'any' ? '*' : pattern.kind === 'exact' ? pattern.name : `*.${pattern.suffix}`;
    if (!seen.has(key)) {
      seen.add(key);
      patterns.push(pattern);
    }
  }
  return patterns;
}

function compilePath(match: RouteMatchConfig, where: string): PathSpec {
  const given = [match.path, match.pathPrefix, match.pathRegex].filter((v) => v !== undefined).length;
  if (given > 1) throw new Error(`${where}: use only one of path, pathPrefix or pathRegex`);
  if (match.path !== undefined) return { kind: 'exact', path: requireSlash(match.path, 'path', where) };
  if (match.pathRegex !== undefined) {
    return { kind: 'regex', source: match.pathRegex, re: compileAnchoredRegex(match.pathRegex, `${where} pathRegex`) };
  }
  return { kind: 'prefix', prefix: requireSlash(match.pathPrefix ?? '/', 'pathPrefix', where) };
}

function requireSlash(path: string, field: string, where: string): string {
  if (!path.startsWith('/')) throw new Error(`${where}: ${field} "${path}" must start with "/"`);
  return path;
}

function compileMethods(methods: string[] | undefined, where: string): readonly string[] | null {
  if (methods === undefined) return null;
  if (methods.length === 0) throw new Error(`${where}: methods lists none; leave it out to accept every method`);
  return [...new Set(methods)];
}

function compilePredicates(
  spec: Record<string, StringMatchConfig> | undefined,
  where: string,
  caseInsensitiveNames: boolean,
): readonly ValuePredicate[] | null {
  if (spec === undefined) return null;
  const predicates: ValuePredicate[] = [];
  for (const [rawName, match] of Object.entries(spec)) {
    const name = caseInsensitiveNames ? rawName.toLowerCase() : rawName;
    predicates.push(compileValuePredicate(name, match, `${where} "${rawName}"`));
  }
  // Cheap checks first; a `regex` last. Order does not change the result, only the work done.
  predicates.sort((a, b) => cost(a) - cost(b));
  return predicates.length === 0 ? null : predicates;
}

function cost(p: ValuePredicate): number {
  return p.kind === REGEX ? 1 : 0;
}

function compileValuePredicate(name: string, match: StringMatchConfig, where: string): ValuePredicate {
  if (typeof match === 'string') return { name, kind: EXACT, text: match, re: null, present: true };
  const { exact, prefix, regex, present } = match;
  const given = [exact, prefix, regex, present].filter((v) => v !== undefined).length;
  if (given !== 1) throw new Error(`${where}: use exactly one of exact, prefix, regex or present`);
  if (exact !== undefined) return { name, kind: EXACT, text: exact, re: null, present: true };
  if (prefix !== undefined) return { name, kind: PREFIX, text: prefix, re: null, present: true };
  if (regex !== undefined) {
    return { name, kind: REGEX, text: '', re: compileAnchoredRegex(regex, where), present: true };
  }
  return { name, kind: PRESENT, text: '', re: null, present: present! };
}

// The admin API's routes as a plain table, path → method → handler, where a path segment written `:name` is a
// parameter (`/api/v1/config/versions/:n`). Static segments win over parameters, so `/api/v1/routes/x` could
// never be shadowed by a later `/api/v1/:kind/x`.
import type http from 'node:http';

export interface AdminContext {
  /** Path parameters by name, percent-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Who is calling: the token's name when a token was presented, else undefined. */
  tokenName: string | undefined;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, ctx: AdminContext) => void | Promise<void>;

/** path pattern → method → handler. HEAD is served by GET. */
export type AdminRoutes = Record<string, Partial<Record<string, Handler>>>;

interface CompiledRoute {
  pattern: string;
  segments: string[];
  methods: Partial<Record<string, Handler>>;
}

export interface RouteMatch {
  pattern: string;
  methods: Partial<Record<string, Handler>>;
  params: Record<string, string>;
}

/**
 * Compiles the table once; `match` is then a scan of routes with the same number of segments.
 *
 * @example
 * const router = new AdminRouter({ '/api/v1/routes/:name': { GET: showRoute } });
 * router.match('/api/v1/routes/users-api'); // { pattern: '/api/v1/routes/:name', params: { name: 'users-api' }, … }
 */
export class AdminRouter {
  readonly #exact = new Map<string, CompiledRoute>();
  readonly #patterns: CompiledRoute[] = [];

  constructor(routes: AdminRoutes) {
    for (const [pattern, methods] of Object.entries(routes)) {
      const route = { pattern, segments: pattern.split('/'), methods };
      if (route.segments.some((s) => s.startsWith(':'))) this.#patterns.push(route);
      else this.#exact.set(pattern, route);
    }
    // Fewer parameters first: the most specific pattern wins.
    const params = (r: CompiledRoute) => r.segments.filter((s) => s.startsWith(':')).length;
    this.#patterns.sort((a, b) => params(a) - params(b));
  }

  /** Every pattern in the table (for docs and the OpenAPI drift test). */
  patterns(): string[] {
    return [...this.#exact.keys(), ...this.#patterns.map((r) => r.pattern)];
  }

  match(path: string): RouteMatch | undefined {
    const exact = this.#exact.get(path);
    if (exact) return { pattern: exact.pattern, methods: exact.methods, params: {} };
    const segments = path.split('/');
    for (const route of this.#patterns) {
      if (route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const want = route.segments[i]!;
        const got = segments[i]!;
        if (want.startsWith(':')) {
          const value = safeDecode(got);
          if (value === undefined || value === '') ok = false;
          else params[want.slice(1)] = value;
        } else if (want !== got) ok = false;
      }
      if (ok) return { pattern: route.pattern, methods: route.methods, params };
    }
    return undefined;
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

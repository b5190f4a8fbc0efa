// cors: the Fetch standard's CORS protocol (https://fetch.spec.whatwg.org/#http-cors-protocol). A preflight
// (OPTIONS with Origin and Access-Control-Request-Method) is answered here, 204 with the allowed methods and headers,
// or 403 cors_rejected when its origin, method or headers are not allowed; it never reaches the upstream. Other
// requests from an allowed origin get Access-Control-Allow-Origin (and -Credentials, -Expose-Headers) on whatever
// response they get. Responses that depend on Origin say so with Vary: Origin, so caches keep them apart.
import type { CorsPluginConfig } from '../../../config/traffic-plugins-schema.ts';
import type { Builtin } from '../types.ts';

interface OriginRule {
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  /** "https://*.example.com" as ["https://", ".example.com"]: a scheme and a host suffix (port included). */
  readonly subdomains: ReadonlyArray<readonly [string, string]>;
}

function compileOrigins(origins: readonly string[]): OriginRule {
  const exact = new Set<string>();
  const subdomains: Array<readonly [string, string]> = [];
  for (const origin of origins) {
    const star = origin.indexOf('://*.');
    if (star === -1) exact.add(origin.toLowerCase());
    else subdomains.push([origin.slice(0, star + 3).toLowerCase(), origin.slice(star + 4).toLowerCase()]);
  }
  return { any: origins.includes('*'), exact, subdomains };
}

function matches(rule: OriginRule, origin: string): boolean {
  const lower = origin.toLowerCase();
  if (rule.exact.has(lower)) return true;
  for (const [scheme, suffix] of rule.subdomains) {
    // One or more labels before the suffix: https://a.example.com and https://a.b.example.com, not https://example.com.
    if (lower.startsWith(scheme) && lower.endsWith(suffix) && lower.length > scheme.length + suffix.length && !lower.slice(scheme.length, -suffix.length).includes('/')) return true;
  }
  return false;
}

function tokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(',') : value).split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
}

/** Adds a token to Vary unless it is there already (or Vary is "*"). */
function addVary(headers: Record<string, string | string[] | undefined>, token: string): void {
  const existing = headers.vary;
  if (existing === undefined) {
    headers.vary = token;
    return;
  }
  const present = tokens(existing);
  if (present.includes('*') || present.includes(token.toLowerCase())) return;
  headers.vary = `${Array.isArray(existing) ? existing.join(', ') : existing}, ${token}`;
}

const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

export const cors = {
  name: 'cors',
  create(config) {
    const origins = compileOrigins(config.origins);
    const methods = new Set(config.methods.map((m) => m.toUpperCase()));
    const allowMethods = [...methods].join(', ');
    const allowHeaders = config.allowHeaders === undefined ? undefined : new Set(config.allowHeaders.map((h) => h.toLowerCase()));
    const exposeHeaders = config.exposeHeaders.join(', ');
    const maxAge = String(Math.floor(config.maxAge / 1000));
    // "*" is only meaningful without credentials; with them the origin is echoed (the Fetch standard forbids "*").
    const wildcard = origins.any && !config.credentials;
    const varies = !wildcard;

    /** The Access-Control-Allow-Origin value for this origin, or undefined when it is not allowed. */
    const allowOrigin = (origin: string): string | undefined => {
      if (wildcard) return '*';
      // With credentials, "*" allows any real origin but never the opaque "null" (sandboxed frames, file: pages).
      if (origins.any) return origin === 'null' ? undefined : origin;
      return matches(origins, origin) ? origin : undefined;
    };

    return {
      handle(ctx, next) {
        const headers = ctx.request.headers;
        const origin = headers.origin;
        if (origin === undefined) return next();
        const requested = headers['access-control-request-method'];
        const allowed = allowOrigin(origin);
        if (ctx.request.method === 'OPTIONS' && requested !== undefined) {
          const askedHeaders = tokens(headers['access-control-request-headers']);
          const headersOk = allowHeaders === undefined || askedHeaders.every((h) => allowHeaders.has(h));
          if (allowed === undefined || !methods.has(requested.toUpperCase()) || !headersOk) {
            return ctx.fail('cors_rejected', { vary: PREFLIGHT_VARY });
          }
          const answer: Record<string, string> = {
            'access-control-allow-origin': allowed,
            'access-control-allow-methods': allowMethods,
            'access-control-max-age': maxAge,
            vary: PREFLIGHT_VARY,
          };
          const allowList = allowHeaders === undefined ? askedHeaders.join(', ') : [...allowHeaders].join(', ');
          if (allowList !== '') answer['access-control-allow-headers'] = allowList;
          if (config.credentials) answer['access-control-allow-credentials'] = 'true';
          return ctx.respond(204, undefined, answer);
        }
        if (allowed !== undefined) {
          const out = ctx.response.headers;
          out.set('access-control-allow-origin', allowed);
          if (config.credentials) out.set('access-control-allow-credentials', 'true');
          if (exposeHeaders !== '') out.set('access-control-expose-headers', exposeHeaders);
        }
        return next();
      },
      onResponse: varies ? (_ctx, response) => addVary(response.headers, 'Origin') : undefined,
    };
  },
} satisfies Builtin<CorsPluginConfig>;

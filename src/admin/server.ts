// The admin listener (default 127.0.0.1:9901): liveness, readiness, the config and its versions, resources,
// reload. Auth (auth.ts) runs before anything else; writes are audited (config-routes.ts).
import http from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { AdminAuth } from './auth.ts';
import { configRoutes } from './config-routes.ts';
import type { AdminControl } from './control.ts';
import { handleObservability } from './observability-routes.ts';
import { resourceRoutes } from './resource-routes.ts';
import { rolloutRoutes } from './rollout-routes.ts';
import { fail, json } from './respond.ts';
import { AdminRouter, type AdminContext, type AdminRoutes } from './router.ts';
import type { TelemetryView } from './telemetry-view.ts';

/** Extra entries merged into the table (e.g. observability's), and who may call. */
export interface AdminServerOptions {
  /** Tokens and the loopback rule; the default has no token (loopback callers only). */
  auth?: AdminAuth;
  extraRoutes?: AdminRoutes;
  log?: Logger;
}

/**
 * The admin HTTP server over one routes table: path (with `:param` segments) → method → handler.
 *
 * @example
 * const server = createAdminServer(control, telemetry, { auth, extraRoutes: { '/api/v1/things/:id': { GET: showThing } } });
 */
export function createAdminServer(control: AdminControl, telemetry?: TelemetryView, options: AdminServerOptions = {}): http.Server {
  const auth = options.auth ?? new AdminAuth({});
  const router = new AdminRouter(routeTable(control, options.extraRoutes));
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const allowed = auth.check(req, path);
    if (!allowed.ok) {
      req.resume();
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        void control.audit({ time: new Date().toISOString(), actor: 'anonymous', action: `${req.method} ${path}`, result: 'unauthorized', status: allowed.code === 'unauthorized' ? 401 : 403, remote: req.socket.remoteAddress ?? '' });
      }
      // RFC 6750 §3: a 401 names the scheme it wants.
      return fail(res, allowed.code, allowed.message, {}, allowed.code === 'unauthorized' ? { 'www-authenticate': 'Bearer realm="sluice-admin"' } : {});
    }
    if (telemetry !== undefined && handleObservability(telemetry, req, res, path, json)) return void req.resume();
    const found = router.match(path);
    if (!found) {
      req.resume();
      return fail(res, 'not_found', `${path} is not an admin endpoint`);
    }
    const { methods } = found;
    // RFC 9110 §9.3.2: HEAD is GET without the body.
    const handler = methods[req.method!] ?? (req.method === 'HEAD' ? methods.GET : undefined);
    if (!handler) {
      req.resume();
      // RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
      const allow = Object.keys(methods).concat('GET' in methods ? ['HEAD'] : []).join(', ');
      res.setHeader('allow', allow);
      return fail(res, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`);
    }
    const ctx: AdminContext = { params: found.params, query: url.searchParams, tokenName: allowed.tokenName };
    Promise.resolve(handler(req, res, ctx))
      .catch((err: unknown) => {
        // A shared store (etcd) that cannot be reached is an outage to report, not a bug.
        if ((err as { code?: unknown }).code === 'store_unavailable') return fail(res, 'store_unavailable', (err as Error).message);
        options.log?.error({ err, path, method: req.method }, 'admin API handler failed');
        fail(res, 'internal_error', String(err));
      })
      // A handler that did not read the body leaves it to be drained, so the connection stays usable.
      .finally(() => req.resume());
  });
}

function routeTable(control: AdminControl, extraRoutes: AdminRoutes = {}): AdminRoutes {
  return {
    '/healthz': { GET: (_req, res) => json(res, 200, { status: 'ok' }) },
    '/readyz': {
      GET: (_req, res) => {
        const { ready, detail } = control.readiness();
        json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', ...detail });
      },
    },
    ...configRoutes(control),
    ...resourceRoutes(control),
    ...rolloutRoutes(control),
    ...extraRoutes,
  };
}

/** Every path pattern of the table with its methods (the OpenAPI drift test reads this). */
export function adminRouteTable(control: AdminControl, extraRoutes: AdminRoutes = {}): Array<{ path: string; methods: string[] }> {
  const table = routeTable(control, extraRoutes);
  return new AdminRouter(table).patterns().map((path) => ({ path, methods: Object.keys(table[path]!) }));
}

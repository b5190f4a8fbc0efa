// Read-only resources of the running config: routes, upstreams (with live target health) and the plugins
// configured per route. All from the config in service, credentials redacted.
import type { RouteConfig } from '../config/schema.ts';
import type { AdminControl } from './control.ts';
import { redact } from './redact.ts';
import { fail, json } from './respond.ts';
import type { AdminRoutes } from './router.ts';

export function resourceRoutes(control: AdminControl): AdminRoutes {
  return {
    '/api/v1/routes': {
      GET: (_req, res) => {
        const current = control.currentConfig();
        if (!current) return fail(res, 'not_ready', 'no config loaded yet');
        json(res, 200, { version: current.version, routes: current.config.routes.map((r) => redact(r)) });
      },
    },
    '/api/v1/routes/:name': {
      GET: (_req, res, ctx) => {
        const current = control.currentConfig();
        if (!current) return fail(res, 'not_ready', 'no config loaded yet');
        const route = current.config.routes.find((r) => r.name === ctx.params.name);
        if (!route) return fail(res, 'not_found', `no route named "${ctx.params.name}" (see GET /api/v1/routes)`);
        json(res, 200, { version: current.version, route: redact(route) });
      },
    },
    '/api/v1/upstreams': {
      GET: async (_req, res) => json(res, 200, await control.upstreams()),
    },
    '/api/v1/plugins': {
      GET: (_req, res) => {
        const current = control.currentConfig();
        if (!current) return fail(res, 'not_ready', 'no config loaded yet');
        const routes = current.config.routes
          .filter((r) => (r.plugins?.length ?? 0) > 0)
          .map((r) => ({ route: r.name, plugins: pluginsOf(r) }));
        json(res, 200, { version: current.version, routes });
      },
    },
  };
}

/** Each `- name: { settings }` entry of a route's chain, in order. */
function pluginsOf(route: RouteConfig): Array<{ name: string; config: unknown }> {
  return (route.plugins ?? []).flatMap((entry) =>
    Object.entries(entry as Record<string, unknown>).map(([name, config]) => ({ name, config: redact(config) })),
  );
}

// The admin listener (default 127.0.0.1:9901): liveness, readiness, the running config and reload.
import http from 'node:http';
import type { AdminControl } from './control.ts';
import { redact } from './redact.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export function createAdminServer(control: AdminControl): http.Server {
  const routes: Record<string, Handler> = {
    'GET /healthz': (_req, res) => json(res, 200, { status: 'ok' }),
    'GET /readyz': (_req, res) => {
      const { ready, detail } = control.readiness();
      json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', ...detail });
    },
    'GET /api/v1/config': (_req, res) => {
      const current = control.currentConfig();
      if (!current) return json(res, 503, apiError('not_ready', 'no config loaded yet'));
      json(res, 200, { version: current.version, loadedAt: current.loadedAt, config: redact(current.config) });
    },
    'POST /api/v1/reload': async (_req, res) => {
      const result = await control.reload('admin api');
      if (result.ok) json(res, 200, result);
      else json(res, 422, { ...apiError('invalid_config', 'the new config was rejected; the previous one keeps serving'), errors: result.errors });
    },
  };
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handler = routes[`${req.method} ${path}`];
    if (!handler) {
      const known = Object.keys(routes).some((r) => r.endsWith(` ${path}`));
      return json(res, known ? 405 : 404, apiError(known ? 'method_not_allowed' : 'not_found', `${req.method} ${path} is not an admin endpoint`));
    }
    req.resume();
    Promise.resolve(handler(req, res)).catch((err: unknown) => json(res, 500, apiError('internal_error', String(err))));
  });
}

function apiError(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

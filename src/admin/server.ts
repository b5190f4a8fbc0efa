// The admin listener (default 127.0.0.1:9901): liveness, readiness, the running config and reload.
import http from 'node:http';
import type { AdminControl } from './control.ts';
import { redact } from './redact.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export function createAdminServer(control: AdminControl): http.Server {
  const routes: Record<string, Record<string, Handler>> = {
    '/healthz': { GET: (_req, res) => json(res, 200, { status: 'ok' }) },
    '/readyz': {
      GET: (_req, res) => {
        const { ready, detail } = control.readiness();
        json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', ...detail });
      },
    },
    '/api/v1/config': {
      GET: (_req, res) => {
        const current = control.currentConfig();
        if (!current) return json(res, 503, apiError('not_ready', 'no config loaded yet'));
        json(res, 200, { version: current.version, loadedAt: current.loadedAt, config: redact(current.config) });
      },
    },
    '/api/v1/upstreams': {
      GET: async (_req, res) => json(res, 200, await control.upstreams()),
    },
    '/api/v1/reload': {
      POST: async (_req, res) => {
        const result = await control.reload('admin api');
        if (result.ok) json(res, 200, result);
        else json(res, 422, { ...apiError('invalid_config', 'the new config was rejected; the previous one keeps serving'), errors: result.errors });
      },
    },
  };
  return http.createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0]!;
    const methods = routes[path];
    if (!methods) return json(res, 404, apiError('not_found', `${path} is not an admin endpoint`));
    // RFC 9110 §9.3.2: HEAD is GET without the body.
    const handler = methods[req.method!] ?? (req.method === 'HEAD' ? methods.GET : undefined);
    if (!handler) {
      // RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
      const allow = Object.keys(methods).concat('GET' in methods ? ['HEAD'] : []).join(', ');
      res.setHeader('allow', allow);
      return json(res, 405, apiError('method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`));
    }
    Promise.resolve(handler(req, res)).catch((err: unknown) => json(res, 500, apiError('internal_error', String(err))));
  });
}

function apiError(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

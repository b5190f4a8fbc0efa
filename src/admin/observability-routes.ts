// The admin's observability endpoints: /metrics for Prometheus, /api/v1/traces and /api/v1/traces/{traceId} for
// the embedded trace store (the dashboard's waterfall).
import type http from 'node:http';
import { parseTraceQuery, wantsOpenMetrics } from '../observability/index.ts';
import type { TelemetryView } from './telemetry-view.ts';

const TRACE_ID = /^[0-9a-f]{32}$/;
const TRACES = '/api/v1/traces';

/**
 * Answers the request when its path is one of these endpoints and returns true; false leaves it to the caller.
 * `reply` writes a JSON answer (the admin server's own helper, so every endpoint answers alike).
 */
export function handleObservability(
  view: TelemetryView,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  reply: (res: http.ServerResponse, status: number, body: unknown) => void,
): boolean {
  if (path !== '/metrics' && path !== TRACES && !path.startsWith(`${TRACES}/`)) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    reply(res, 405, { error: { code: 'method_not_allowed', message: `${req.method} is not allowed on ${path}; use GET, HEAD` } });
    return true;
  }
  const failed = (err: unknown) => reply(res, 500, { error: { code: 'internal_error', message: String(err) } });
  if (path === '/metrics') {
    view.metrics(wantsOpenMetrics(req.headers.accept)).then(({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    }, failed);
    return true;
  }
  if (path === TRACES) {
    const query = parseTraceQuery(new URL(req.url ?? '/', 'http://admin').searchParams);
    if ('error' in query) {
      reply(res, 400, { error: { code: 'invalid_query', message: query.error } });
      return true;
    }
    view.traces(query).then((traces) => reply(res, 200, { traces }), failed);
    return true;
  }
  const traceId = path.slice(TRACES.length + 1).toLowerCase();
  if (!TRACE_ID.test(traceId)) {
    reply(res, 400, { error: { code: 'invalid_trace_id', message: 'a trace id is 32 hexadecimal digits' } });
    return true;
  }
  view.trace(traceId).then((trace) => {
    if (trace === undefined) reply(res, 404, { error: { code: 'not_found', message: `trace ${traceId} is not in the store (it keeps the most recent traces)` } });
    else reply(res, 200, trace);
  }, failed);
  return true;
}

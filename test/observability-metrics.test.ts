// Metrics as /metrics shows them: labels and the cardinality guard, histograms and exemplars, the setters the
// runtime and the resilience code call, and aggregation across workers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { observabilitySchema, type ObservabilityInput } from '../src/config/observability-schema.ts';
import { aggregateMetrics, createObservability, wantsOpenMetrics, type RequestRecord } from '../src/observability/index.ts';

function observe(input: ObservabilityInput = {}) {
  return createObservability(observabilitySchema.parse({ metrics: { processMetrics: false }, ...input }), { version: '9.9.9' });
}

function record(over: Partial<RequestRecord> & { durationMs?: number } = {}): RequestRecord {
  const start = performance.now();
  const { durationMs = 30, ...rest } = over;
  return {
    listener: 'public', route: 'users-api', upstream: 'users', target: 'http://127.0.0.1:3001', method: 'GET', path: '/api/users/1',
    status: 200, errorCode: undefined, clientAddress: '192.0.2.10', requestId: 'r', startTime: start, upstreamStart: start,
    firstByte: start, endTime: start + durationMs, bytesIn: 5, bytesOut: 100, attempts: 1, userAgent: undefined, ...rest,
  };
}

function serve(o: ReturnType<typeof observe>, over: Partial<RequestRecord> & { durationMs?: number } = {}, headers = {}) {
  const r = record(over);
  const t = o.startRequest(headers, r.listener, r.route);
  t.end(r);
  return t;
}

/** The value of one sample, by its exact name and label text; undefined when absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels ? `{${labels}}` : ''} `)) return Number(line.split(' ')[1]);
  }
  return undefined;
}

const SERIES = 'listener="public",route="users-api",upstream="users",method="GET",status_class="2xx"';

describe('request metrics', () => {
  it('count requests, observe durations and bytes by listener, route, upstream, method and status class', async () => {
    const o = observe();
    serve(o, { durationMs: 30 });
    serve(o, { durationMs: 300 });
    serve(o, { status: 503, durationMs: 5 });
    const text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES), 2);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES.replace('2xx', '5xx')), 1);
    assert.equal(sample(text, 'sluice_http_request_duration_seconds_count', SERIES), 2);
    assert.ok(Math.abs(sample(text, 'sluice_http_request_duration_seconds_sum', SERIES)! - 0.33) < 1e-9);
    assert.equal(sample(text, 'sluice_http_request_duration_seconds_bucket', `${SERIES},le="0.025"`), 0);
    assert.equal(sample(text, 'sluice_http_request_duration_seconds_bucket', `${SERIES},le="0.05"`), 1);
    assert.equal(sample(text, 'sluice_http_request_duration_seconds_bucket', `${SERIES},le="0.5"`), 2);
    assert.equal(sample(text, 'sluice_http_request_duration_seconds_bucket', `${SERIES},le="+Inf"`), 2);
    assert.equal(sample(text, 'sluice_http_received_bytes_total', 'listener="public",route="users-api",upstream="users"'), 15);
    assert.equal(sample(text, 'sluice_http_sent_bytes_total', 'listener="public",route="users-api",upstream="users"'), 300);
    await o.close();
  });

  it('track requests in flight per listener and route', async () => {
    const o = observe();
    const a = o.startRequest({}, 'public', 'users-api');
    const b = o.startRequest({}, 'public', 'users-api');
    assert.equal(sample(await o.metrics.render(false), 'sluice_http_requests_in_flight', 'listener="public",route="users-api"'), 2);
    a.end(record());
    b.end(record());
    b.end(record()); // a second end() is ignored
    const text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_http_requests_in_flight', 'listener="public",route="users-api"'), 0);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES), 2);
    await o.close();
  });

  it('time each upstream attempt and count retries', async () => {
    const o = observe();
    const t = o.startRequest({}, 'public', 'users-api');
    t.attemptStart(0, 'http://127.0.0.1:3001');
    t.attemptEnd(0, undefined, 'upstream_connect_failed');
    t.attemptStart(1, 'http://127.0.0.1:3002');
    t.attemptEnd(1, 503, undefined);
    t.attemptStart(2, 'http://127.0.0.1:3001');
    t.attemptEnd(2, 200, undefined);
    t.end(record({ attempts: 3 }));
    const text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_upstream_attempt_duration_seconds_count', 'route="users-api",upstream="users",status_class="none"'), 1);
    assert.equal(sample(text, 'sluice_upstream_attempt_duration_seconds_count', 'route="users-api",upstream="users",status_class="5xx"'), 1);
    assert.equal(sample(text, 'sluice_upstream_attempt_duration_seconds_count', 'route="users-api",upstream="users",status_class="2xx"'), 1);
    assert.equal(sample(text, 'sluice_upstream_retries_total', 'route="users-api",upstream="users"'), 2);
    await o.close();
  });

  it('keep labels bounded: no route or upstream is "none", odd methods "_OTHER", no response "none"', async () => {
    const o = observe();
    serve(o, { route: undefined, upstream: undefined, status: 404, errorCode: 'route_not_found' });
    serve(o, { method: 'PURGE' });
    serve(o, { status: 0 });
    const text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_http_requests_total', 'listener="public",route="none",upstream="none",method="GET",status_class="4xx"'), 1);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES.replace('GET', '_OTHER')), 1);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES.replace('2xx', 'none')), 1);
    assert.doesNotMatch(text, /api\/users|192\.0\.2\.10/, 'never a path or a client address');
    await o.close();
  });

  it('fold routes past maxRouteSeries into route="_overflow"', async () => {
    const o = observe({ metrics: { maxRouteSeries: 2, processMetrics: false } });
    for (const route of ['a', 'b', 'c', 'd', 'c']) serve(o, { route });
    const text = await o.metrics.render(false);
    const routes = [...text.matchAll(/^sluice_http_requests_total\{[^}]*route="([^"]+)"[^}]*\} (\d+)/gm)].map((m) => `${m[1]}=${m[2]}`);
    assert.deepEqual(routes.sort(), ['_overflow=3', 'a=1', 'b=1']);
    await o.close();
  });

  it('records nothing per request when metrics are off, and keeps counters across a reconfigure', async () => {
    const input: ObservabilityInput = { metrics: { processMetrics: false } };
    const o = observe(input);
    serve(o);
    o.reconfigure(observabilitySchema.parse({ metrics: { enabled: false, processMetrics: false } }));
    serve(o);
    o.reconfigure(observabilitySchema.parse(input));
    serve(o);
    assert.equal(sample(await o.metrics.render(false), 'sluice_http_requests_total', SERIES), 2);
    await o.close();
  });
});

describe('gateway metrics set by the runtime and the resilience code', () => {
  it('config reloads, config version and build info', async () => {
    const o = observe();
    o.metrics.recordReload(true);
    o.metrics.recordReload(true);
    o.metrics.recordReload(false);
    o.metrics.setConfigVersion(7);
    const text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_config_reloads_total', 'result="ok"'), 2);
    assert.equal(sample(text, 'sluice_config_reloads_total', 'result="failed"'), 1);
    assert.equal(sample(text, 'sluice_config_version'), 7);
    assert.ok(Math.abs(sample(text, 'sluice_config_last_reload_success_timestamp_seconds')! - Date.now() / 1000) < 60);
    assert.equal(sample(text, 'sluice_build_info', `version="9.9.9",node_version="${process.versions.node}"`), 1);
    await o.close();
  });

  it('target health, circuit state (one series per state, 1 on the current one), rate limits and shedding', async () => {
    const o = observe();
    const target = 'upstream="users",target="http://127.0.0.1:3001"';
    o.metrics.setTargetHealth('users', 'http://127.0.0.1:3001', false);
    o.metrics.setCircuitState('users', 'http://127.0.0.1:3001', 'half-open');
    o.metrics.countRateLimit('users-api', 'allowed', 3);
    o.metrics.countRateLimit('users-api', 'limited');
    o.metrics.countShed('public', 'overload');
    let text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_upstream_target_healthy', target), 0);
    assert.equal(sample(text, 'sluice_upstream_circuit_state', `${target},state="closed"`), 0);
    assert.equal(sample(text, 'sluice_upstream_circuit_state', `${target},state="open"`), 0);
    assert.equal(sample(text, 'sluice_upstream_circuit_state', `${target},state="half-open"`), 1);
    assert.equal(sample(text, 'sluice_rate_limit_decisions_total', 'route="users-api",decision="allowed"'), 3);
    assert.equal(sample(text, 'sluice_rate_limit_decisions_total', 'route="users-api",decision="limited"'), 1);
    assert.equal(sample(text, 'sluice_shed_requests_total', 'listener="public",reason="overload"'), 1);
    o.metrics.removeTarget('users', 'http://127.0.0.1:3001');
    text = await o.metrics.render(false);
    assert.equal(sample(text, 'sluice_upstream_target_healthy', target), undefined);
    assert.equal(sample(text, 'sluice_upstream_circuit_state', `${target},state="half-open"`), undefined);
    await o.close();
  });
});

describe('exposition formats', () => {
  it('serves OpenMetrics with exemplars carrying the trace id of traced requests, Prometheus text without', async () => {
    const o = observe({ tracing: { sampler: { ratio: 0 } }, traceStore: { enabled: false } });
    const traced = serve(o, { durationMs: 30 }, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    serve(o, { durationMs: 31 }); // not sampled: no exemplar
    assert.equal(traced.sampled, true);
    const om = await o.metrics.render(true);
    assert.equal(o.metrics.contentType(true), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    assert.ok(om.endsWith('# EOF\n'));
    assert.match(om, /^# TYPE sluice_http_requests counter$/m);
    assert.match(om, new RegExp(`^sluice_http_requests_total\\{${SERIES}\\} 2$`, 'm'));
    const exemplars = om.split('\n').filter((l) => l.includes(' # {'));
    assert.equal(exemplars.length, 1, exemplars.join('\n'));
    const exemplar = /^sluice_http_request_duration_seconds_bucket\{.*le="0\.05"\} 2 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} (\S+) (\d+(?:\.\d+)?)$/.exec(exemplars[0]!);
    assert.ok(exemplar, exemplars[0]);
    assert.ok(Math.abs(Number(exemplar[1]) - 0.03) < 1e-9);
    assert.ok(Math.abs(Number(exemplar[2]) - Date.now() / 1000) < 60, 'timestamp in seconds');

    const text = await o.metrics.render(false);
    assert.equal(o.metrics.contentType(false), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(text, /^# TYPE sluice_http_requests_total counter$/m);
    assert.doesNotMatch(text, /trace_id/);
    // Rendering OpenMetrics must not rename anything in the Prometheus text (prom-client renames counters in place).
    assert.equal(await o.metrics.render(false), text);
    await o.close();
  });

  it('chooses OpenMetrics from the Accept header Prometheus sends', () => {
    assert.equal(wantsOpenMetrics('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), true);
    assert.equal(wantsOpenMetrics('text/plain;version=0.0.4;q=1,*/*;q=0.1'), false);
    assert.equal(wantsOpenMetrics(undefined), false);
  });

  it('adds up the workers of a cluster: counters and histograms sum, config version takes the lowest', async () => {
    const workers = [observe(), observe()];
    serve(workers[0]!);
    serve(workers[1]!);
    serve(workers[1]!, { status: 500 });
    workers[0]!.metrics.setConfigVersion(4);
    workers[1]!.metrics.setConfigVersion(3);
    const inFlight = workers[1]!.startRequest({}, 'public', 'users-api');
    const text = await aggregateMetrics(await Promise.all(workers.map((w) => w.metrics.snapshot())), false);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES), 2);
    assert.equal(sample(text, 'sluice_http_requests_total', SERIES.replace('2xx', '5xx')), 1);
    assert.equal(sample(text, 'sluice_http_request_duration_seconds_bucket', `${SERIES},le="+Inf"`), 2);
    assert.equal(sample(text, 'sluice_http_requests_in_flight', 'listener="public",route="users-api"'), 1);
    assert.equal(sample(text, 'sluice_config_version'), 3);
    const om = await aggregateMetrics(await Promise.all(workers.map((w) => w.metrics.snapshot())), true);
    assert.match(om, new RegExp(`^sluice_http_requests_total\\{${SERIES}\\} 2$`, 'm'));
    assert.ok(om.endsWith('# EOF\n'));
    inFlight.end(record());
    await Promise.all(workers.map((w) => w.close()));
  });

  it('reuses the children of a route: a request does no label lookups once its route has been seen', async () => {
    const o = observe();
    for (let i = 0; i < 1000; i++) serve(o, { route: `r${i % 3}` });
    const text = await o.metrics.render(false);
    assert.equal(text.match(/^sluice_http_requests_total\{/gm)!.length, 3);
    await o.close();
  });
});

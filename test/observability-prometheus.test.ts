// A real Prometheus (Debian package `prometheus`) scrapes a node:http server exposing Sluice's metrics after known
// traffic; its HTTP API must return the sluice_ series with exactly the values fed, exemplars must carry the
// trace id, and `promtool check metrics` must pass on the exposition.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { observabilitySchema } from '../src/config/observability-schema.ts';
import { createObservability, wantsOpenMetrics, type RequestRecord } from '../src/observability/index.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';

describe('a real Prometheus scraping Sluice\'s metrics', () => {
  const observability = createObservability(observabilitySchema.parse({ metrics: { processMetrics: true }, tracing: { sampler: { ratio: 0 } } }), { version: '1.2.3' });
  let metricsServer: Server;
  let prometheus: RunningPrometheus | undefined;
  let prometheusUrl = '';
  let exposition = '';
  const scrapedAs: string[] = [];
  const TRACED = '4bf92f3577b34da6a3ce929d0e0e4736';

  function feed(count: number, over: Partial<RequestRecord> & { durationMs: number; traceparent?: string }): void {
    for (let i = 0; i < count; i++) {
      const { durationMs, traceparent, ...rest } = over;
      const start = performance.now();
      const t = observability.startRequest(traceparent === undefined ? {} : { traceparent }, 'public', rest.route);
      t.attemptStart(0, 'http://127.0.0.1:3001');
      t.attemptEnd(0, rest.status, undefined);
      t.end({
        listener: 'public', route: 'users-api', upstream: 'users', target: 'http://127.0.0.1:3001', method: 'GET', path: '/api/users/1',
        status: 200, errorCode: undefined, clientAddress: '192.0.2.1', requestId: `r${i}`, startTime: start, upstreamStart: start,
        firstByte: start, endTime: start + durationMs, bytesIn: 0, bytesOut: 1000, attempts: 1, userAgent: undefined, ...rest,
      });
    }
  }

  const scalar = (promql: string) => prometheus!.scalar(promql);

  before(async () => {
    // The traffic: 7 fast GETs and 2 slower ones on users-api, 3 failing POSTs on orders-api, 1 unrouted request,
    // one traced request (its trace id becomes an exemplar), and what the runtime reports.
    feed(7, { route: 'users-api', durationMs: 20 });
    feed(2, { route: 'users-api', durationMs: 300 });
    feed(3, { route: 'orders-api', upstream: 'orders', method: 'POST', status: 503, durationMs: 40, bytesIn: 250, bytesOut: 80 });
    feed(1, { route: undefined, upstream: undefined, status: 404, errorCode: 'route_not_found', durationMs: 1 });
    feed(1, { route: 'users-api', durationMs: 20, traceparent: `00-${TRACED}-00f067aa0ba902b7-01` });
    observability.metrics.recordReload(true);
    observability.metrics.recordReload(true);
    observability.metrics.recordReload(false);
    observability.metrics.setConfigVersion(5);
    observability.metrics.setTargetHealth('users', 'http://127.0.0.1:3001', true);
    observability.metrics.setCircuitState('users', 'http://127.0.0.1:3001', 'closed');
    observability.metrics.countRateLimit('users-api', 'limited', 4);
    observability.metrics.countShed('public', 'overload', 2);

    metricsServer = createServer((req, res) => {
      void (async () => {
        const openMetrics = wantsOpenMetrics(req.headers.accept);
        scrapedAs.push(openMetrics ? 'openmetrics' : 'text');
        res.writeHead(200, { 'content-type': observability.metrics.contentType(openMetrics) });
        res.end(await observability.metrics.render(openMetrics));
      })();
    });
    metricsServer.listen(0, '127.0.0.1');
    await once(metricsServer, 'listening');
    const target = `127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;

    prometheus = await startPrometheus([target]);
    prometheusUrl = prometheus.url;
    await prometheus.waitFor('sluice_http_requests_total', 45_000);
    exposition = await observability.metrics.render(false);
  });

  after(async () => {
    await prometheus?.stop();
    metricsServer?.close();
    await observability.close();
  });

  it('scrapes the target in OpenMetrics (so exemplars come along) with no error', async () => {
    const res = await fetch(`${prometheusUrl}/api/v1/targets`);
    const targets = ((await res.json()) as { data: { activeTargets: Array<{ health: string; lastError: string }> } }).data.activeTargets;
    assert.deepEqual(targets.map((t) => [t.health, t.lastError]), [['up', '']]);
    assert.ok(scrapedAs.includes('openmetrics'), `scraped as ${scrapedAs.join(', ')}`);
    assert.equal(await scalar('up{job="sluice"}'), 1);
  });

  it('holds the request counts, by route, method and status class, that were fed', async () => {
    assert.equal(await scalar('sluice_http_requests_total{route="users-api",method="GET",status_class="2xx"}'), 10);
    assert.equal(await scalar('sluice_http_requests_total{route="orders-api",upstream="orders",method="POST",status_class="5xx"}'), 3);
    assert.equal(await scalar('sluice_http_requests_total{route="none",upstream="none",status_class="4xx"}'), 1);
    assert.equal(await scalar('sum(sluice_http_requests_total)'), 14);
    assert.equal(await scalar('sum(sluice_http_requests_in_flight)'), 0);
  });

  it('holds the duration histogram: counts, sums, buckets and a quantile', async () => {
    const users = 'route="users-api",status_class="2xx"';
    assert.equal(await scalar(`sluice_http_request_duration_seconds_count{${users}}`), 10);
    assert.ok(Math.abs((await scalar(`sluice_http_request_duration_seconds_sum{${users}}`))! - (8 * 0.02 + 2 * 0.3)) < 1e-9);
    assert.equal(await scalar(`sluice_http_request_duration_seconds_bucket{${users},le="0.025"}`), 8);
    assert.equal(await scalar(`sluice_http_request_duration_seconds_bucket{${users},le="0.25"}`), 8);
    assert.equal(await scalar(`sluice_http_request_duration_seconds_bucket{${users},le="0.5"}`), 10);
    const p50 = (await scalar(`histogram_quantile(0.5, sluice_http_request_duration_seconds_bucket{${users}})`))!;
    assert.ok(p50 > 0.01 && p50 <= 0.025, `p50 ${p50}`);
    assert.equal(await scalar('sum(sluice_upstream_attempt_duration_seconds_count)'), 14);
  });

  it('holds bytes, gateway state and build info', async () => {
    assert.equal(await scalar('sluice_http_sent_bytes_total{route="users-api"}'), 10_000);
    assert.equal(await scalar('sluice_http_received_bytes_total{route="orders-api"}'), 750);
    assert.equal(await scalar('sluice_config_reloads_total{result="ok"}'), 2);
    assert.equal(await scalar('sluice_config_reloads_total{result="failed"}'), 1);
    assert.equal(await scalar('sluice_config_version'), 5);
    assert.equal(await scalar('sluice_upstream_target_healthy{upstream="users"}'), 1);
    assert.equal(await scalar('sluice_upstream_circuit_state{upstream="users",state="closed"}'), 1);
    assert.equal(await scalar('sluice_rate_limit_decisions_total{decision="limited"}'), 4);
    assert.equal(await scalar('sluice_shed_requests_total{reason="overload"}'), 2);
    assert.equal(await scalar('sluice_build_info{version="1.2.3"}'), 1);
    assert.ok((await scalar('process_resident_memory_bytes'))! > 0);
  });

  it('stores the exemplar carrying the traced request\'s trace id', async () => {
    const end = Date.now() / 1000 + 60;
    const url = `${prometheusUrl}/api/v1/query_exemplars?query=${encodeURIComponent('sluice_http_request_duration_seconds_bucket')}&start=${end - 3600}&end=${end}`;
    const body = (await (await fetch(url)).json()) as { data: Array<{ seriesLabels: Record<string, string>; exemplars: Array<{ labels: Record<string, string>; value: string }> }> };
    const exemplars = body.data.flatMap((series) => series.exemplars.map((e) => ({ le: series.seriesLabels.le, ...e })));
    const traced = exemplars.filter((e) => e.labels.trace_id === TRACED);
    assert.deepEqual(traced.map((e) => e.le), ['0.025']);
    assert.ok(Math.abs(Number(traced[0]!.value) - 0.02) < 1e-9);
    // The others belong to requests kept by the embedded trace store (errors, not sampled): each can be opened there.
    for (const e of exemplars) assert.ok(observability.traces.get(e.labels.trace_id!), `exemplar ${e.labels.trace_id} is in the trace store`);
  });

  it('passes `promtool check metrics`', () => {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  });
});

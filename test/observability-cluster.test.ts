// A running `sluice start --workers 2`, seen from outside as a platform team would: a real Prometheus scrapes the
// admin /metrics while known traffic goes through both workers, and its HTTP API must hold exactly that traffic
// (the primary sums the workers); `promtool check metrics` passes on the exposition; every request reaches the
// OTLP receiver as spans; /api/v1/traces lists the traces of both workers; each worker writes its own access-log
// file, whose lines join the spans by trace id.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OtlpReceiver, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, listen } from './helpers/otlp-receiver.ts';
import { admin, eventually, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const ROUTED = 40;
const UNROUTED = 6;

/** One request over a new connection, so the kernel spreads them over both workers. */
function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('observability of a two-worker Sluice, from outside', () => {
  const temp = tempDir('sluice-obs-cluster-');
  const receiver = new OtlpReceiver();
  let upstream: TestUpstream;
  let sluice: RunningSluice;
  let prometheus: RunningPrometheus;

  before(async () => {
    const otlpUrl = await listen(receiver.server);
    upstream = await startUpstream('api');
    const path = join(temp.dir, 'sluice.yaml');
    writeAtomic(path, `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: api, targets: [{ url: "${upstream.url}" }] }]
routes: [{ name: api-route, match: { pathPrefix: /api }, upstream: api }]
observability:
  tracing: { sampler: always, otlp: { endpoint: "${otlpUrl}", flushInterval: 100ms } }
  accessLog: { sink: { file: { path: "${join(temp.dir, 'access.log')}" } }, buffer: { flushInterval: 100ms } }
admin: { address: "127.0.0.1:0" }
`);
    sluice = await startSluice(path, { workers: 2, timeoutMs: 30_000 });
    prometheus = await startPrometheus([`127.0.0.1:${sluice.adminPort}`]);
    const port = sluice.port();
    // Bounded traffic: a few at a time, each on its own connection.
    for (let i = 0; i < ROUTED; i += 4) {
      const statuses = await Promise.all([0, 1, 2, 3].map((k) => get(port, `/api/item/${i + k}`)));
      assert.deepEqual(statuses, [200, 200, 200, 200]);
    }
    for (let i = 0; i < UNROUTED; i++) assert.equal(await get(port, `/elsewhere/${i}`), 404);
  });

  after(async () => {
    await prometheus?.stop();
    await sluice?.proc.stop();
    await upstream?.close();
    receiver.server.close();
    temp.remove();
  });

  test('Prometheus holds exactly the traffic sent, summed over both workers', async () => {
    const routed = 'sum(sluice_http_requests_total{route="api-route",upstream="api",method="GET",status_class="2xx"})';
    await eventually(async () => ((await prometheus.scalar(routed)) === ROUTED ? true : undefined), 30_000, 250);
    assert.equal(await prometheus.scalar('sum(sluice_http_requests_total{route="none",status_class="4xx"})'), UNROUTED);
    assert.equal(await prometheus.scalar('sum(sluice_http_request_duration_seconds_count{route="api-route"})'), ROUTED);
    assert.equal(await prometheus.scalar('sum(sluice_upstream_attempt_duration_seconds_count{route="api-route",status_class="2xx"})'), ROUTED);
    assert.equal(await prometheus.scalar('sum(sluice_http_sent_bytes_total{route="api-route"})'), ROUTED * 'api'.length);
    assert.equal(await prometheus.scalar('sum(sluice_http_requests_in_flight)'), 0);
    assert.equal(await prometheus.scalar('sluice_config_version'), 1);
    assert.equal(await prometheus.scalar('sluice_config_reloads_total{result="ok"}'), 1);
    assert.equal(await prometheus.scalar(`sluice_upstream_target_healthy{upstream="api",target="${upstream.url}"}`), 1);
    assert.equal(await prometheus.scalar('count(sluice_build_info)'), 1);
    assert.equal(await prometheus.scalar('up{job="sluice"}'), 1);
  });

  test('the exposition passes `promtool check metrics`; Prometheus parses the OpenMetrics one without error', async () => {
    const res = await fetch(`${sluice.adminUrl}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.includes('sluice_http_requests_total'), 'the sluice series are there');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
    // promtool reads only the Prometheus text format; Prometheus itself asks for OpenMetrics (exemplars on).
    const open = await fetch(`${sluice.adminUrl}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    assert.match(String(open.headers.get('content-type')), /application\/openmetrics-text/);
    assert.ok((await open.text()).trimEnd().endsWith('# EOF'));
    const targets = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ health: string; lastError: string }> } };
    assert.deepEqual(targets.data.activeTargets.map((t) => [t.health, t.lastError]), [['up', '']]);
  });

  test('every request is a trace on the OTLP wire, and the trace store of both workers lists them', async () => {
    await receiver.until(() => receiver.spans.filter((s) => s.kind === SPAN_KIND_SERVER).length >= ROUTED + UNROUTED, 'a server span per request', 20_000);
    const servers = receiver.spans.filter((s) => s.kind === SPAN_KIND_SERVER);
    const clients = receiver.spans.filter((s) => s.kind === SPAN_KIND_CLIENT);
    assert.equal(servers.length, ROUTED + UNROUTED);
    await receiver.until(() => receiver.spans.filter((s) => s.kind === SPAN_KIND_CLIENT).length >= ROUTED, 'a client span per routed request');
    const serverIds = new Map(servers.map((s) => [s.spanId, s.traceId]));
    for (const c of clients) assert.equal(serverIds.get(c.parentSpanId), c.traceId, 'each attempt is the child of its request');
    // The upstream saw the attempt span as its parent.
    const seen = new Set(upstream.received.map((r) => String(r.headers.traceparent).split('-')[2]));
    assert.ok(clients.every((c) => seen.has(c.spanId)));

    const listed = (await admin(sluice.adminUrl, '/api/v1/traces?route=api-route&limit=1000')).body as unknown as { traces: Array<{ traceId: string }> };
    assert.equal(listed.traces.length, ROUTED, 'both workers\' traces are listed');
    const one = listed.traces[0]!.traceId;
    const detail = (await admin(sluice.adminUrl, `/api/v1/traces/${one}`)).body as unknown as { spans: Array<{ kind: string }> };
    assert.deepEqual(detail.spans.map((s) => s.kind).sort(), ['client', 'server']);
    assert.equal((await admin(sluice.adminUrl, `/api/v1/traces/${'0'.repeat(31)}1`)).status, 404);
    assert.equal((await admin(sluice.adminUrl, '/api/v1/traces/not-a-trace')).status, 400);
  });

  test('each worker writes its own access-log file; the lines join the spans by trace id', async () => {
    const files = ['access-w1.log', 'access-w2.log'].map((f) => join(temp.dir, f));
    const lines = await eventually(() => {
      const all = files.filter(existsSync).flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean));
      return all.length >= ROUTED + UNROUTED ? all.map((l) => JSON.parse(l) as Record<string, unknown>) : undefined;
    }, 10_000);
    assert.equal(lines.length, ROUTED + UNROUTED);
    assert.ok(files.every(existsSync), 'both workers served, and wrote');
    assert.ok(!existsSync(join(temp.dir, 'access.log')), 'no process shares the base name');
    const serverSpans = new Map(receiver.spans.filter((s) => s.kind === SPAN_KIND_SERVER).map((s) => [s.traceId, s.spanId]));
    for (const line of lines) assert.equal(serverSpans.get(line.trace_id as string), line.span_id);
    assert.equal(lines.filter((l) => l.status === 404 && l.error_code === 'route_not_found').length, UNROUTED);
  });
});

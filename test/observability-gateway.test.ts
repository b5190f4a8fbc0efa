// Observability wired into the real proxy: a two-hop chain (client → Sluice → frontend service, which calls the
// users service through Sluice again) must come out as one trace — on the OTLP wire (decoded with the official
// protobuf definitions), in the embedded trace store, in the access log and in the metrics — with the parentage the
// upstreams saw in their traceparent. Retries are separate attempt spans; with tracing off, the client's trace
// context passes through untouched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { OtlpReceiver, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, listen, type Span } from './helpers/otlp-receiver.ts';
import { eventually, tempDir } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0([01])$/;

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    }).on('error', reject);
  });
}

describe('observability through the proxy', () => {
  const temp = tempDir('sluice-obs-');
  const accessLog = join(temp.dir, 'access.log');
  const receiver = new OtlpReceiver();
  let gw: TestGateway;
  let users: TestUpstream;
  let frontend: TestUpstream;
  let flaky: TestUpstream;
  let flakyCalls = 0;

  before(async () => {
    const otlpUrl = await listen(receiver.server);
    users = await startUpstream('users');
    // The frontend service calls the users service through the gateway, passing on the trace context it received
    // (what an instrumented service does for a call it makes inside its own span; here it has none of its own).
    frontend = await startUpstream('frontend', (req, res) => {
      get(`${gw.url}/users/1`, { traceparent: String(req.headers.traceparent) }).then(
        (answer) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`frontend+${answer.body}`),
        () => res.writeHead(500).end(),
      );
    });
    flaky = await startUpstream('flaky', (_req, res) => {
      flakyCalls++;
      res.writeHead(flakyCalls === 1 ? 503 : 200).end('flaky');
    });
    gw = await startGateway({
      upstreams: [
        { name: 'frontend', targets: [{ url: frontend.url }] },
        { name: 'users', targets: [{ url: users.url }] },
        { name: 'flaky', targets: [{ url: flaky.url }] },
      ],
      routes: [
        { name: 'front', match: { pathPrefix: '/front' }, upstream: 'frontend' },
        { name: 'users-api', match: { pathPrefix: '/users' }, upstream: 'users' },
        { name: 'retrying', match: { pathPrefix: '/flaky' }, upstream: 'flaky', retries: { attempts: 2, on: [503], backoff: { base: '1ms', max: '1ms' } } },
      ],
      observability: {
        tracing: { sampler: 'always', otlp: { endpoint: otlpUrl, flushInterval: '50ms' } },
        accessLog: { sink: { file: { path: accessLog } }, buffer: { flushInterval: '50ms' } },
      },
    });
  });

  after(async () => {
    await gw?.close();
    await Promise.all([users, frontend, flaky].map((u) => u?.close()));
    receiver.server.close();
    temp.remove();
  });

  test('a two-hop chain is one trace with correct parentage on the OTLP wire, as the upstreams saw it', async () => {
    const answer = await get(`${gw.url}/front/page`, { traceparent: `00-${TRACE}-${CLIENT_SPAN}-01`, 'x-request-id': 'chain-1' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'frontend+users');
    await receiver.until(() => receiver.spans.filter((s) => s.traceId === TRACE).length >= 4, 'the chain\'s 4 spans');
    const spans = receiver.spans.filter((s) => s.traceId === TRACE);
    const server = (route: string) => spans.find((s) => s.kind === SPAN_KIND_SERVER && s.attributes['sluice.route'] === route)!;
    const client = (route: string) => spans.find((s) => s.kind === SPAN_KIND_CLIENT && s.attributes['sluice.route'] === route)!;
    const [frontServer, frontClient, usersServer, usersClient] = [server('front'), client('front'), server('users-api'), client('users-api')];
    for (const span of [frontServer, frontClient, usersServer, usersClient]) assert.ok(span, 'every span was exported');

    // client → Sluice (server span, child of the client's) → frontend (client span of Sluice)
    assert.equal(frontServer.parentSpanId, CLIENT_SPAN);
    assert.equal(frontClient.parentSpanId, frontServer.spanId);
    const sawFront = PARENT.exec(String(frontend.received.at(-1)!.headers.traceparent))!;
    assert.deepEqual([sawFront[1], sawFront[2], sawFront[3]], [TRACE, frontClient.spanId, '1'], 'the frontend sees the attempt span as its parent');
    // frontend → Sluice again (its parent is the span the frontend was called from) → users
    assert.equal(usersServer.parentSpanId, frontClient.spanId);
    assert.equal(usersClient.parentSpanId, usersServer.spanId);
    const sawUsers = PARENT.exec(String(users.received.at(-1)!.headers.traceparent))!;
    assert.deepEqual([sawUsers[1], sawUsers[2]], [TRACE, usersClient.spanId]);

    // Stable HTTP semantic-convention names, plus Sluice's own.
    assert.equal(frontServer.attributes['http.request.method'], 'GET');
    assert.equal(frontServer.attributes['http.response.status_code'], 200);
    assert.equal(frontServer.attributes['url.path'], '/front/page');
    assert.equal(frontServer.attributes['sluice.upstream'], 'frontend');
    assert.equal(frontServer.attributes['sluice.request_id'], 'chain-1');
    assert.equal(frontClient.attributes['server.address'], '127.0.0.1');
    assert.equal(frontClient.attributes['server.port'], frontend.port);
    assert.equal(frontClient.attributes['http.response.status_code'], 200);
    assert.ok(spans.every((s: Span) => !s.error));
  });

  test('the embedded store holds the whole chain under the trace id', async () => {
    const trace = gw.gateway.observability!.traces.get(TRACE);
    assert.ok(trace, 'the trace is in the store');
    assert.equal(trace.route, 'front', 'the outermost hop describes the trace');
    assert.equal(trace.spans.length, 4);
    const ids = new Set(trace.spans.map((s) => s.spanId));
    assert.ok(trace.spans.every((s) => s.parentSpanId === CLIENT_SPAN || ids.has(s.parentSpanId!)), 'every span\'s parent is in the trace');
    assert.deepEqual(gw.gateway.observability!.traces.query({ route: 'users-api' }).map((t) => t.traceId), [], 'a trace is listed by its outer hop');
  });

  test('access-log lines carry the trace id and the server spans\' ids', async () => {
    const lines = await eventually(() => {
      let text = '';
      try {
        text = readFileSync(accessLog, 'utf8');
      } catch {
        return undefined;
      }
      const parsed = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.trace_id === TRACE);
      return parsed.length >= 2 ? parsed : undefined;
    }, 5000);
    const front = lines.find((l) => l.route === 'front')!;
    const serverSpans = receiver.spans.filter((s) => s.traceId === TRACE && s.kind === SPAN_KIND_SERVER);
    assert.ok(serverSpans.some((s) => s.spanId === front.span_id), 'span_id is the server span\'s');
    assert.equal(front.request_id, 'chain-1');
    assert.equal(front.status, 200);
    assert.equal(front.upstream, 'frontend');
    assert.equal(front.target, frontend.url);
    assert.equal(front.method, 'GET');
    assert.equal(front.path, '/front/page');
    assert.equal(front.attempts, 1);
    assert.equal(front.bytes_out, 'frontend+users'.length);
    assert.ok(typeof front.duration_ms === 'number' && typeof front.upstream_ms === 'number' && typeof front.ttfb_ms === 'number');
    assert.ok((front.duration_ms as number) >= (front.ttfb_ms as number));
  });

  test('retries are separate attempt spans, and each attempt names its own span in traceparent', async () => {
    const before = flaky.received.length;
    const answer = await get(`${gw.url}/flaky`);
    assert.equal(answer.status, 200);
    const seen = flaky.received.slice(before).map((r) => PARENT.exec(String(r.headers.traceparent))!);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]![1], seen[1]![1], 'one trace');
    assert.notEqual(seen[0]![2], seen[1]![2], 'two attempt spans');
    const traceId = seen[0]![1]!;
    await receiver.until(() => receiver.spans.filter((s) => s.traceId === traceId).length >= 3, 'server + 2 attempt spans');
    const attempts = receiver.spans.filter((s) => s.traceId === traceId && s.kind === SPAN_KIND_CLIENT);
    assert.deepEqual(attempts.map((a) => a.spanId).sort(), [seen[0]![2], seen[1]![2]].sort());
    const first = attempts.find((a) => a.spanId === seen[0]![2])!;
    const second = attempts.find((a) => a.spanId === seen[1]![2])!;
    assert.equal(first.attributes['http.response.status_code'], 503);
    assert.equal(first.error, true);
    assert.equal(second.attributes['http.request.resend_count'], 1);
    assert.equal(second.attributes['http.response.status_code'], 200);
  });

  test('metrics count the requests, attempts and retries that went through', async () => {
    await get(`${gw.url}/nowhere`);
    const text = await gw.gateway.observability!.metrics.render(false);
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    assert.equal(value('sluice_http_requests_total{listener="test",route="front",upstream="frontend",method="GET",status_class="2xx"}'), 1);
    assert.equal(value('sluice_http_requests_total{listener="test",route="users-api",upstream="users",method="GET",status_class="2xx"}'), 1);
    assert.equal(value('sluice_http_requests_total{listener="test",route="none",upstream="none",method="GET",status_class="4xx"}'), 1);
    assert.equal(value('sluice_upstream_retries_total{route="retrying",upstream="flaky"}'), 1);
    assert.equal(value('sluice_upstream_attempt_duration_seconds_count{route="retrying",upstream="flaky",status_class="5xx"}'), 1);
    assert.equal(value('sluice_http_sent_bytes_total{listener="test",route="front",upstream="frontend"}'), 'frontend+users'.length);
    assert.equal(value('sluice_http_requests_in_flight{listener="test",route="front"}'), 0);
    assert.equal(value('sluice_config_version'), 1);
    gw.gateway.refreshUpstreamGauges();
    const after = await gw.gateway.observability!.metrics.render(false);
    assert.ok(after.includes(`sluice_upstream_target_healthy{upstream="users",target="${users.url}"} 1`), 'target health is exported');
  });

  test('with B3 and W3C propagation, the upstream gets one set of each per attempt, naming that attempt\'s span', async () => {
    const B3_TRACE = '64fe8b2a57d3eff7'; // 64 bits: padded to 128 for W3C and the trace store, sent on as it came in B3
    const padded = `${'0'.repeat(16)}${B3_TRACE}`;
    let calls = 0;
    const b3 = await startUpstream('b3', (_req, res) => res.writeHead(++calls === 1 ? 503 : 200).end('b3'));
    try {
      await gw.apply({
        upstreams: [{ name: 'b3', targets: [{ url: b3.url }] }],
        routes: [{ name: 'b3', upstream: 'b3', retries: { attempts: 2, on: [503], backoff: { base: '1ms', max: '1ms' } } }],
        observability: { tracing: { sampler: { ratio: 0 }, propagators: ['b3multi', 'tracecontext'] } },
      });
      const answer = await get(`${gw.url}/b3`, {
        'X-B3-TraceId': B3_TRACE, 'X-B3-SpanId': CLIENT_SPAN, 'X-B3-ParentSpanId': 'aaaaaaaaaaaaaaaa', 'X-B3-Sampled': '1', 'X-B3-Flags': '0',
      });
      assert.equal(answer.status, 200);
      assert.equal(b3.received.length, 2);
      const spanIds = b3.received.map(({ headers, rawHeaders }) => {
        const names = rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        for (const name of ['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'traceparent']) {
          assert.equal(names.filter((n) => n === name).length, 1, `one ${name}, Sluice's`);
        }
        assert.equal(headers['x-b3-parentspanid'], undefined, 'the client\'s B3 fields are not copied');
        assert.equal(headers['x-b3-flags'], undefined);
        assert.equal(headers['x-b3-traceid'], B3_TRACE);
        assert.equal(headers['x-b3-sampled'], '1', 'the caller\'s decision, over the ratio 0');
        assert.equal(headers.traceparent, `00-${padded}-${String(headers['x-b3-spanid'])}-01`, 'both formats name the same span');
        return String(headers['x-b3-spanid']);
      });
      assert.notEqual(spanIds[0], spanIds[1], 'the retry rewrote the span id in both formats');
      const trace = await eventually(() => gw.gateway.observability!.traces.get(padded));
      const server = trace.spans.find((sp) => sp.kind === 'server')!;
      assert.equal(server.parentSpanId, CLIENT_SPAN);
      assert.deepEqual(trace.spans.filter((sp) => sp.kind === 'client').map((sp) => sp.spanId).sort(), [...spanIds].sort());
    } finally {
      await b3.close();
    }
  });

  test('with tracing off, the client\'s trace context reaches the upstream untouched', async () => {
    await gw.apply({
      upstreams: [{ name: 'users', targets: [{ url: users.url }] }],
      routes: [{ name: 'users-api', upstream: 'users' }],
      observability: { tracing: { enabled: false } },
    });
    const traceparent = `00-${TRACE}-${CLIENT_SPAN}-01`;
    await get(`${gw.url}/users/2`, { traceparent, tracestate: 'vendor=abc', baggage: 'user=1' });
    const seen = users.received.at(-1)!.headers;
    assert.equal(seen.traceparent, traceparent);
    assert.equal(seen.tracestate, 'vendor=abc');
    assert.equal(seen.baggage, 'user=1');
  });
});

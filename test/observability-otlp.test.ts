// OTLP export checked on the wire: a local receiver decodes what Sluice's observability posts with the official
// OpenTelemetry protobuf definitions (test/helpers/otlp-receiver.ts), for a
// two-hop chain: client → gateway → frontend service → gateway → users service. The gateway here is a few lines
// of node:http wired to observability exactly as the proxy is to be (startRequest, upstreamTraceHeaders,
// attemptStart/attemptEnd, end), so the test also shows the wiring.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { SpanKind } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { observabilitySchema, type ObservabilityInput } from '../src/config/observability-schema.ts';
import { createObservability, type Observability, type RequestRecord } from '../src/observability/index.ts';
import { TraceRequestEncoder } from '../src/observability/otlp-encode.ts';
import { TraceJsonEncoder } from '../src/observability/otlp-json.ts';
import { SpanExportPipeline, type OtlpTraceSettings, type SpanOutcome } from '../src/observability/span-export.ts';
import { SluiceSpan, clientSpanAttributes, serverSpanAttributes } from '../src/observability/spans.ts';
import { newSpanId, newTraceId } from '../src/observability/trace-context.ts';
import {
  ExportTraceServiceRequest, OtlpReceiver, SPAN_KIND_CLIENT, SPAN_KIND_SERVER, attributesOf, hex, listen, type DecodedTraces, type KeyValue,
} from './helpers/otlp-receiver.ts';

/**
 * A minimal gateway: routes by path prefix, forwards with fetch, and calls observability at the points the proxy
 * will: startRequest after routing, the trace headers and attemptStart/attemptEnd around each attempt, end in the
 * logging phase.
 */
function gateway(observability: Observability, routes: Array<{ prefix: string; name: string; upstream: string; target: () => string }>): Server {
  return createServer((req: IncomingMessage, res) => {
    const startTime = performance.now();
    const path = req.url ?? '/';
    const route = routes.find((r) => path.startsWith(r.prefix));
    const telemetry = observability.startRequest(req.headers, 'public', route?.name);
    const record: RequestRecord = {
      listener: 'public', route: route?.name, upstream: route?.upstream, target: undefined, method: req.method ?? 'GET', path,
      status: 0, errorCode: undefined, clientAddress: req.socket.remoteAddress ?? '', requestId: String(req.headers['x-request-id'] ?? 'none'),
      startTime, upstreamStart: undefined, firstByte: undefined, endTime: 0, bytesIn: 0, bytesOut: 0, attempts: 0,
      userAgent: req.headers['user-agent'],
    };
    const finish = (status: number, body: string, errorCode?: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
      Object.assign(record, { status, errorCode, endTime: performance.now(), bytesOut: Buffer.byteLength(body) });
      telemetry.end(record);
    };
    if (route === undefined) return finish(404, 'no route', 'route_not_found');
    const target = route.target();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
    for (const [name, value] of telemetry.upstreamTraceHeaders(0)) headers[name] = value; // set, replacing the client's
    record.attempts = 1;
    record.target = target;
    record.upstreamStart = performance.now();
    telemetry.attemptStart(0, target);
    fetch(`${target}${path}`, { headers }).then(
      async (upstream) => {
        record.firstByte = performance.now();
        const body = await upstream.text();
        telemetry.attemptEnd(0, upstream.status, undefined);
        finish(upstream.status, body);
      },
      () => {
        telemetry.attemptEnd(0, undefined, 'upstream_connect_failed');
        finish(502, 'bad gateway', 'upstream_connect_failed');
      },
    );
  });
}

describe('OTLP export on the wire', () => {
  const receiver = new OtlpReceiver();
  let otlpUrl: string;
  let gatewayServer: Server;
  let gatewayUrl: string;
  let frontend: Server;
  let users: Server;
  let observability: ReturnType<typeof createObservability>;
  const seen: { frontend?: string; users?: string; frontendOwnSpan?: string; usersTracestate?: string; usersBaggage?: string } = {};

  before(async () => {
    otlpUrl = await listen(receiver.server);
    const input: ObservabilityInput = {
      metrics: { processMetrics: false },
      tracing: { sampler: 'always', otlp: { endpoint: otlpUrl, flushInterval: '50ms' } },
      accessLog: { sink: { otlp: { endpoint: otlpUrl } }, buffer: { flushInterval: '50ms' } },
    };
    observability = createObservability(observabilitySchema.parse(input), { instance: 'gw-1', version: '1.2.3' });

    // The users service: the last hop. It records what trace context reached it.
    users = createServer((req, res) => {
      seen.users = String(req.headers.traceparent);
      seen.usersTracestate = req.headers.tracestate as string | undefined;
      seen.usersBaggage = req.headers.baggage as string | undefined;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"user":"alice"}');
    });
    const usersUrl = await listen(users);
    // The frontend service, itself instrumented: it continues the trace with a span of its own and calls the
    // users service back through the gateway.
    frontend = createServer((req, res) => {
      seen.frontend = String(req.headers.traceparent);
      const [, traceId] = seen.frontend.split('-');
      seen.frontendOwnSpan = 'a1b2c3d4e5f60718';
      fetch(`${gatewayUrl}/api/users/1`, {
        headers: { traceparent: `00-${traceId}-${seen.frontendOwnSpan}-01`, tracestate: String(req.headers.tracestate), baggage: String(req.headers.baggage) },
      }).then(async (r) => {
        const body = await r.text();
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`page with ${body}`);
      }, () => res.writeHead(500).end());
    });
    const frontendUrl = await listen(frontend);
    gatewayServer = gateway(observability, [
      { prefix: '/api/', name: 'users-api', upstream: 'users', target: () => usersUrl },
      { prefix: '/', name: 'frontend', upstream: 'frontend', target: () => frontendUrl },
    ]);
    gatewayUrl = await listen(gatewayServer);
  });

  after(async () => {
    await observability.close();
    for (const server of [gatewayServer, frontend, users, receiver.server]) {
      server.closeAllConnections();
      server.close();
    }
  });

  const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
  const CLIENT_SPAN = 'b7ad6b7169203331';

  it('exports a server span per request and a client span per attempt with correct parentage across two hops', async () => {
    const res = await fetch(`${gatewayUrl}/page`, {
      headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'congo=t61rcWkgMzE', baggage: 'tenant=acme', 'x-request-id': 'req-42' },
    });
    assert.equal(await res.text(), 'page with {"user":"alice"}');
    await receiver.until(() => receiver.spans.length >= 4, '4 spans');

    const spans = receiver.spans;
    assert.equal(spans.length, 4);
    assert.ok(spans.every((s) => s.traceId === CLIENT_TRACE), 'one trace, the client\'s');
    const outerServer = spans.find((s) => s.kind === SPAN_KIND_SERVER && s.attributes['sluice.route'] === 'frontend')!;
    const innerServer = spans.find((s) => s.kind === SPAN_KIND_SERVER && s.attributes['sluice.route'] === 'users-api')!;
    const outerClient = spans.find((s) => s.kind === SPAN_KIND_CLIENT && s.parentSpanId === outerServer.spanId)!;
    const innerClient = spans.find((s) => s.kind === SPAN_KIND_CLIENT && s.parentSpanId === innerServer.spanId)!;
    assert.ok(outerClient && innerClient);

    // client → gateway (server span) → frontend (client span, whose id the frontend saw) → frontend's own span →
    // gateway (server span) → users (client span, whose id the users service saw).
    assert.equal(outerServer.parentSpanId, CLIENT_SPAN);
    assert.equal(seen.frontend, `00-${CLIENT_TRACE}-${outerClient.spanId}-01`);
    assert.equal(innerServer.parentSpanId, seen.frontendOwnSpan);
    assert.equal(seen.users, `00-${CLIENT_TRACE}-${innerClient.spanId}-01`);
    assert.equal(seen.usersTracestate, 'congo=t61rcWkgMzE');
    assert.equal(seen.usersBaggage, 'tenant=acme');

    assert.equal(outerServer.name, 'GET frontend');
    assert.equal(outerServer.attributes['http.request.method'], 'GET');
    assert.equal(outerServer.attributes['http.response.status_code'], 200);
    assert.equal(outerServer.attributes['url.path'], '/page');
    assert.equal(outerServer.attributes['sluice.upstream'], 'frontend');
    assert.equal(outerServer.attributes['sluice.request_id'], 'req-42');
    assert.equal(innerClient.attributes['server.address'], '127.0.0.1');
    assert.equal(innerClient.attributes['network.peer.address'], '127.0.0.1');
    assert.equal(innerClient.attributes['sluice.upstream'], 'users');
    assert.equal(innerClient.attributes['http.response.status_code'], 200);
    assert.deepEqual(receiver.resources[0], { 'service.name': 'sluice', 'service.version': '1.2.3', 'service.instance.id': 'gw-1' });
    assert.ok(receiver.contentTypes.has('application/x-protobuf'));
    // The exporter counts a batch once the receiver's answer is read, a moment after the receiver has it.
    let text = '';
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      text = await observability.metrics.render(false);
      if (/sluice_trace_spans_total\{outcome="exported"\} 4/.test(text)) break;
    }
    assert.match(text, /sluice_trace_spans_total\{outcome="exported"\} 4/);
  });

  it('ships access-log lines as OTLP log records joined to the trace by trace and span id', async () => {
    await receiver.until(() => receiver.logs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).length >= 2, '2 log records');
    const records = receiver.logs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords));
    const serverSpans = new Set(receiver.spans.filter((s) => s.kind === SPAN_KIND_SERVER).map((s) => s.spanId));
    for (const record of records) {
      const line = JSON.parse(record.body.stringValue) as { trace_id: string; span_id: string };
      assert.equal(hex(record.traceId), CLIENT_TRACE);
      assert.equal(line.trace_id, CLIENT_TRACE);
      assert.equal(hex(record.spanId), line.span_id);
      assert.ok(serverSpans.has(line.span_id), 'the line\'s span is the request\'s server span');
      assert.equal(record.eventName, 'sluice.access');
      assert.equal(record.severityNumber, 9);
    }
    assert.equal(attributesOf(receiver.logs[0]!.resource.attributes)['service.name'], 'sluice');
  });

  it('marks an error on the server and client spans of a failed attempt', async () => {
    const failing = createObservability(observabilitySchema.parse({
      metrics: { processMetrics: false }, tracing: { sampler: 'always', otlp: { endpoint: otlpUrl, flushInterval: '50ms' } },
    }));
    const gw = gateway(failing, [{ prefix: '/', name: 'dead', upstream: 'nowhere', target: () => 'http://127.0.0.1:9' }]);
    const url = await listen(gw);
    const before = receiver.spans.length;
    assert.equal((await fetch(`${url}/x`)).status, 502);
    await failing.flush();
    await receiver.until(() => receiver.spans.length >= before + 2, 'the failed request\'s spans');
    const [server, client] = [SPAN_KIND_SERVER, SPAN_KIND_CLIENT].map((k) => receiver.spans.slice(before).find((s) => s.kind === k)!);
    assert.equal(server!.error, true);
    assert.equal(server!.attributes['error.type'], 'upstream_connect_failed');
    assert.equal(client!.error, true);
    assert.equal(client!.attributes['error.type'], 'upstream_connect_failed');
    gw.close();
    await failing.close();
  });

  it('drops spans beyond the queue and counts them, without waiting', async () => {
    const small = createObservability(observabilitySchema.parse({
      metrics: { processMetrics: false },
      traceStore: { enabled: false },
      tracing: { sampler: 'always', otlp: { endpoint: otlpUrl, maxQueueSize: 4, maxBatchSize: 4, flushInterval: '1h' } },
    }));
    for (let i = 0; i < 10; i++) {
      const t = small.startRequest({}, 'public', 'r');
      t.attemptStart(0, 'http://127.0.0.1:1');
      t.attemptEnd(0, 200, undefined);
      const now = performance.now();
      t.end({
        listener: 'public', route: 'r', upstream: 'u', target: undefined, method: 'GET', path: '/', status: 200, errorCode: undefined,
        clientAddress: '127.0.0.1', requestId: 'r', startTime: now - 1, upstreamStart: undefined, firstByte: undefined, endTime: now,
        bytesIn: 0, bytesOut: 0, attempts: 1, userAgent: undefined,
      });
    }
    await small.close();
    const text = await small.metrics.render(false);
    const count = (outcome: string) => Number(new RegExp(`sluice_trace_spans_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)![1]);
    assert.equal(count('dropped') + count('exported'), 20);
    assert.ok(count('dropped') >= 12, `dropped ${count('dropped')}`);
  });
});

describe('Sluice\'s OTLP encoder', () => {
  const scope = { name: 'sluice', version: '1.0.0' };
  function spans(): SluiceSpan[] {
    const resources = [
      resourceFromAttributes({ 'service.name': 'sluice', 'service.instance.id': 'gw-1' }),
      resourceFromAttributes({ 'service.name': 'sluice-renamed', 'service.instance.id': 'gw-1' }),
    ];
    const out: SluiceSpan[] = [];
    for (let i = 0; i < 150; i++) {
      const traceId = newTraceId();
      const serverId = newSpanId();
      const start = performance.now() + i;
      const resource = resources[i % 7 === 0 ? 1 : 0]!;
      const record = {
        method: i % 5 === 0 ? 'PURGE' : 'GET', path: `/api/users/${i}/ünïcødé`, status: i % 9 === 0 ? 503 : 200, errorCode: i % 9 === 0 ? 'upstream_unavailable' : undefined,
        clientAddress: `10.0.${i % 3}.${i}`, userAgent: i % 2 ? 'curl/8' : undefined, listener: 'public', route: `route-${i % 4}`,
        upstream: 'users', requestId: `req-${i}`, bytesIn: i * 1000, bytesOut: 2 ** 40 + i,
      };
      const extra = { 'plugin.ratio': 0.25 + i, 'plugin.negative': -i - 1, 'plugin.flag': i % 2 === 0 };
      out.push(new SluiceSpan({
        name: `${record.method} ${record.route}`, kind: SpanKind.SERVER, traceId, spanId: serverId, parentSpanId: i % 3 ? newSpanId() : undefined,
        parentIsRemote: true, sampled: true, traceState: i % 4 === 0 ? 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' : undefined, start, end: start + 1.5 + i,
        error: record.status >= 500, attributes: serverSpanAttributes(record, `gw-${i % 2}.example.com:8443`, extra), resource, scope,
      }));
      out.push(new SluiceSpan({
        name: `GET users`, kind: SpanKind.CLIENT, traceId, spanId: newSpanId(), parentSpanId: serverId, parentIsRemote: false, sampled: true,
        traceState: undefined, start: start + 0.1, end: start + 1, error: false, resource, scope,
        attributes: clientSpanAttributes({ attempt: i % 2, method: record.method, target: `http://10.0.0.${i % 5}:3001`, status: record.status, errorType: undefined, route: record.route, upstream: 'users' }),
      }));
    }
    return out;
  }

  /** Decoded, in a form that does not depend on how either encoder orders or groups what it writes. */
  function normalize(body: Uint8Array): unknown[] {
    const decoded = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, bytes: String, defaults: true }) as {
      resourceSpans: Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ scope: unknown; spans: Array<Record<string, unknown> & { attributes: KeyValue[]; flags: number }> }> }>;
    };
    const out: unknown[] = [];
    for (const rs of decoded.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          out.push({
            ...span,
            flags: span.flags & 0xff, // the trace flags; the is-remote bits are newer than otlp-transformer's encoder
            status: span.status ?? { code: 0, message: '' }, // trace.proto: an absent status means UNSET
            attributes: [...span.attributes].sort((a, b) => a.key.localeCompare(b.key)),
            resource: [...rs.resource.attributes].sort((a, b) => a.key.localeCompare(b.key)),
            scope: ss.scope,
          });
        }
      }
    }
    return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }

  it('writes what otlp-transformer writes for the same spans, as the official definitions read them', () => {
    const list = spans();
    const encoder = new TraceRequestEncoder();
    encoder.encode(list); // fills its caches, so the second pass takes the cached paths
    const ours = normalize(encoder.encode(list));
    const theirs = normalize(ProtobufTraceSerializer.serializeRequest(list)!);
    assert.equal(ours.length, 300);
    for (let i = 0; i < ours.length; i++) assert.deepEqual(ours[i], theirs[i], `span ${i}`);
  });

  /** OTLP JSON, parsed, in the same order-free form; fields at their proto3 default count as absent. */
  function normalizeJson(body: Uint8Array): unknown[] {
    const isDefault = (v: unknown) => v === undefined || v === 0 || v === '' || (Array.isArray(v) && v.length === 0);
    const clean = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => !isDefault(v)));
    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    const request = JSON.parse(Buffer.from(body).toString('utf8')) as {
      resourceSpans: Array<{ resource: { attributes: Array<{ key: string }> }; scopeSpans: Array<{ scope: Record<string, unknown>; spans: Array<Record<string, unknown>> }> }>;
    };
    const out: unknown[] = [];
    for (const rs of request.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          const status = clean((span.status ?? {}) as Record<string, unknown>);
          out.push(clean({
            ...span,
            flags: (span.flags as number) & 0xff, // as above: otlp-transformer sets the is-remote bits on root spans too
            status: Object.keys(status).length > 0 ? status : undefined,
            attributes: [...(span.attributes as Array<{ key: string }> ?? [])].sort(byKey),
            resource: [...rs.resource.attributes].sort(byKey),
            scope: clean(ss.scope),
          }));
        }
      }
    }
    return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }

  it('writes the JSON otlp-transformer writes for the same spans (ids in hex, exact nanosecond times)', () => {
    const list = spans();
    const encoder = new TraceJsonEncoder();
    const byResource = new Map<unknown, Buffer[]>();
    for (const span of list) {
      const buf = Buffer.alloc(encoder.prepareSpan(span));
      const parts = byResource.get(span.resource) ?? [];
      parts.push(buf.subarray(0, encoder.writePreparedSpan(buf, 0)));
      byResource.set(span.resource, parts);
    }
    const ours: unknown[] = [];
    for (const [resource, parts] of byResource) {
      const head = encoder.requestHead(resource as SluiceSpan['resource'], list[0]!.instrumentationScope);
      const body = Buffer.alloc(head.length + parts.reduce((n, p) => n + p.length, 0) + encoder.endBytes);
      let pos = head.copy(body, 0);
      for (const p of parts) pos += p.copy(body, pos);
      ours.push(...normalizeJson(body.subarray(0, encoder.writeRequestEnd(body, pos))));
    }
    ours.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const theirs = normalizeJson(JsonTraceSerializer.serializeRequest(list)!);
    assert.equal(ours.length, 300);
    for (let i = 0; i < ours.length; i++) assert.deepEqual(ours[i], theirs[i], `span ${i}`);
  });

  it('marks a remote parent in the span flags (OTLP SpanFlags)', () => {
    const [server, client] = spans();
    const decoded = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(new TraceRequestEncoder().encode([server!, client!]))) as DecodedTraces;
    const flags = decoded.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => (s as unknown as { flags: number }).flags);
    assert.deepEqual(flags, [0x001, 0x101]); // server: no parent (i = 0); client: a local parent
  });
});

describe('Sluice\'s OTLP/HTTP exporter', () => {
  let server: Server;
  let url: string;
  let answers: number[] = [];
  const received: Array<{ encoding: string | undefined; spans: number; json?: boolean }> = [];
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = answers.shift() ?? 200;
        if (status === 200) {
          const raw = Buffer.concat(chunks);
          const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
          const json = req.headers['content-type'] === 'application/json';
          const decoded = (json ? JSON.parse(body.toString('utf8')) : ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body))) as DecodedTraces;
          const spans = decoded.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).length;
          received.push({ encoding: req.headers['content-encoding'], spans, ...(json ? { json } : {}) });
        }
        res.writeHead(status, status === 503 ? { 'retry-after': '0' } : {}).end();
      });
    });
    url = await listen(server);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const resource = resourceFromAttributes({ 'service.name': 's' });
  const oneSpan = () => {
    const s = performance.now();
    return new SluiceSpan({
      name: 'GET r', kind: SpanKind.SERVER, traceId: newTraceId(), spanId: newSpanId(), parentSpanId: undefined, parentIsRemote: false, sampled: true,
      traceState: undefined, start: s, end: s + 1, error: false, attributes: { 'http.request.method': 'GET' }, resource, scope: { name: 's' },
    });
  };
  /** Exports `spans` spans through a pipeline and returns what it counted. */
  const exportSpans = async (settings: Partial<OtlpTraceSettings>, spans = 1) => {
    const counted: Partial<Record<SpanOutcome, number>> = {};
    const pipeline = new SpanExportPipeline(
      { endpoint: url, headers: {}, protocol: 'http/protobuf', compression: 'none', timeout: 5000, maxQueueSize: 100, maxBatchSize: 2, flushInterval: 50, ...settings },
      resource, { name: 's' }, (outcome, n) => (counted[outcome] = (counted[outcome] ?? 0) + n),
    );
    for (let i = 0; i < spans; i++) pipeline.submit(oneSpan());
    await pipeline.flush(); // close() alone would not retry: at shutdown a failed batch is given up on
    await pipeline.close();
    return counted;
  };

  it('retries 503 and then succeeds, gzip when asked', async () => {
    answers = [503, 503];
    received.length = 0;
    assert.deepEqual(await exportSpans({ compression: 'gzip' }), { exported: 1 });
    assert.deepEqual(received, [{ encoding: 'gzip', spans: 1 }]);
  });

  it('with protocol http/json sends application/json batches a JSON parser reads, gzip too', async () => {
    answers = [];
    received.length = 0;
    assert.deepEqual(await exportSpans({ protocol: 'http/json', maxBatchSize: 2 }, 5), { exported: 5 });
    assert.deepEqual(await exportSpans({ protocol: 'http/json', compression: 'gzip', maxBatchSize: 4 }, 3), { exported: 3 });
    assert.deepEqual(
      received.sort((a, b) => a.spans - b.spans || String(a.encoding).localeCompare(String(b.encoding))),
      [{ encoding: undefined, spans: 1, json: true }, { encoding: undefined, spans: 2, json: true }, { encoding: undefined, spans: 2, json: true }, { encoding: 'gzip', spans: 3, json: true }],
    );
  });

  it('sends batches of at most maxBatchSize spans, and drops (counting) what the queue cannot hold', async () => {
    answers = [];
    received.length = 0;
    assert.deepEqual(await exportSpans({ maxBatchSize: 2 }, 5), { exported: 5 });
    assert.deepEqual(received.map((r) => r.spans).sort(), [1, 2, 2]);
    received.length = 0;
    // 3 spans make a batch that goes out; 3 more wait for it; the last 2 find the queue full.
    assert.deepEqual(await exportSpans({ maxQueueSize: 3, maxBatchSize: 3 }, 8), { exported: 6, dropped: 2 });
  });

  it('fails at once on a 400, and after its retries when nothing listens', async () => {
    answers = [400];
    assert.deepEqual(await exportSpans({}), { failed: 1 });
    assert.equal(answers.length, 0, 'a 400 is not retried');
    const counted: Partial<Record<SpanOutcome, number>> = {};
    const pipeline = new SpanExportPipeline(
      { endpoint: 'http://127.0.0.1:9', headers: {}, protocol: 'http/protobuf', compression: 'none', timeout: 300, maxQueueSize: 10, maxBatchSize: 10, flushInterval: 10 },
      resource, { name: 's' }, (outcome, n) => (counted[outcome] = (counted[outcome] ?? 0) + n),
    );
    pipeline.submit(oneSpan());
    await pipeline.flush();
    assert.deepEqual(counted, { failed: 1 });
    await pipeline.close();
  });
});

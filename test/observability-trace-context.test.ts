// W3C Trace Context and Baggage handling, samplers, and what a request sends upstream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_METHOD_ORIGINAL, ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_NETWORK_PEER_ADDRESS, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_URL_PATH, ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { observabilitySchema, type ObservabilityInput } from '../src/config/observability-schema.ts';
import { createObservability, type RequestRecord } from '../src/observability/index.ts';
import { RouteSamplers, compileSampler } from '../src/observability/sampler.ts';
import { forwardableBaggage, forwardableTracestate, newSpanId, newTraceId, parseTraceparent } from '../src/observability/trace-context.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('traceparent parsing (W3C Trace Context §3.2)', () => {
  const valid: Array<{ desc: string; value: string; flags: number }> = [
    { desc: 'the spec example, sampled', value: `00-${TRACE_ID}-${PARENT_ID}-01`, flags: 1 },
    { desc: 'not sampled', value: `00-${TRACE_ID}-${PARENT_ID}-00`, flags: 0 },
    { desc: 'unknown flag bits are kept, sampled read from bit 0', value: `00-${TRACE_ID}-${PARENT_ID}-09`, flags: 9 },
    { desc: 'a future version with more fields after a dash', value: `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`, flags: 1 },
    { desc: 'a future version of exactly 55 characters', value: `01-${TRACE_ID}-${PARENT_ID}-00`, flags: 0 },
  ];
  for (const { desc, value, flags } of valid) {
    it(`accepts ${desc}`, () => {
      assert.deepEqual(parseTraceparent(value), { traceId: TRACE_ID, parentSpanId: PARENT_ID, flags });
    });
  }

  const invalid: Array<{ desc: string; value: string | string[] | undefined }> = [
    { desc: 'no header', value: undefined },
    { desc: 'an empty value', value: '' },
    { desc: 'version ff', value: `ff-${TRACE_ID}-${PARENT_ID}-01` },
    { desc: 'version 00 with trailing data', value: `00-${TRACE_ID}-${PARENT_ID}-01-extra` },
    { desc: 'version 00 with a trailing space', value: `00-${TRACE_ID}-${PARENT_ID}-01 ` },
    { desc: 'a future version whose extra data does not start with a dash', value: `cc-${TRACE_ID}-${PARENT_ID}-01.what` },
    { desc: 'an upper-case trace id', value: `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01` },
    { desc: 'an upper-case version', value: `0A-${TRACE_ID}-${PARENT_ID}-01` },
    { desc: 'an all-zero trace id', value: `00-${'0'.repeat(32)}-${PARENT_ID}-01` },
    { desc: 'an all-zero parent id', value: `00-${TRACE_ID}-${'0'.repeat(16)}-01` },
    { desc: 'a short trace id', value: `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01` },
    { desc: 'a long trace id', value: `00-${TRACE_ID}0-${PARENT_ID}-01` },
    { desc: 'a short parent id', value: `00-${TRACE_ID}-${PARENT_ID.slice(1)}-01` },
    { desc: 'a non-hex character in the trace id', value: `00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01` },
    { desc: 'a non-hex character in the parent id', value: `00-${TRACE_ID}-${PARENT_ID.slice(0, 15)}z-01` },
    { desc: 'non-hex flags', value: `00-${TRACE_ID}-${PARENT_ID}-0g` },
    { desc: 'a non-hex version', value: `x0-${TRACE_ID}-${PARENT_ID}-01` },
    { desc: 'underscores for dashes', value: `00_${TRACE_ID}_${PARENT_ID}_01` },
    { desc: 'two traceparent headers joined by Node', value: `00-${TRACE_ID}-${PARENT_ID}-01, 00-${TRACE_ID}-${PARENT_ID}-00` },
    { desc: 'two traceparent headers as an array', value: [`00-${TRACE_ID}-${PARENT_ID}-01`, `00-${TRACE_ID}-${PARENT_ID}-01`] },
  ];
  for (const { desc, value } of invalid) {
    it(`rejects ${desc}`, () => {
      assert.equal(parseTraceparent(value), undefined);
    });
  }
});

describe('tracestate and baggage forwarding', () => {
  it('forwards a valid tracestate as it came', () => {
    assert.equal(forwardableTracestate('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });
  it('combines repeated tracestate headers and drops malformed members (§3.3.1)', () => {
    assert.equal(forwardableTracestate(['congo=t61rcWkgMzE', 'BAD KEY=1,rojo=00f067aa0ba902b7']), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    assert.equal(forwardableTracestate('tenant@vendor=x'), 'tenant@vendor=x');
  });
  it('keeps at most 32 members', () => {
    const members = Array.from({ length: 40 }, (_, i) => `k${i}=v${i}`).join(',');
    assert.equal(forwardableTracestate(members)!.split(',').length, 32);
  });
  it('forwards nothing for an absent or empty tracestate', () => {
    assert.equal(forwardableTracestate(undefined), undefined);
    assert.equal(forwardableTracestate(''), undefined);
    assert.equal(forwardableTracestate('=,='), undefined);
  });
  it('forwards baggage verbatim up to 8192 bytes and drops a larger one', () => {
    assert.equal(forwardableBaggage('userId=alice,isProduction=false'), 'userId=alice,isProduction=false');
    assert.equal(forwardableBaggage('a=' + 'x'.repeat(8190)), 'a=' + 'x'.repeat(8190));
    assert.equal(forwardableBaggage('a=' + 'x'.repeat(8191)), undefined);
  });
});

describe('ids', () => {
  it('mints lower-case hex trace and span ids of the right length, all different', () => {
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = newTraceId();
      const s = newSpanId();
      assert.match(t, /^[0-9a-f]{32}$/);
      assert.match(s, /^[0-9a-f]{16}$/);
      traceIds.add(t);
      spanIds.add(s);
    }
    assert.equal(traceIds.size, 2000);
    assert.equal(spanIds.size, 2000);
  });
});

describe('samplers', () => {
  it('"always" and "never" ignore the parent', () => {
    assert.equal(compileSampler('always').shouldSample(newTraceId(), false), true);
    assert.equal(compileSampler('never').shouldSample(newTraceId(), true), false);
  });

  it('a parent-based ratio follows the caller, and applies the ratio to new traces', () => {
    const sampler = compileSampler({ ratio: 0, parentBased: true });
    assert.equal(sampler.shouldSample(newTraceId(), true), true);
    assert.equal(sampler.shouldSample(newTraceId(), false), false);
    assert.equal(sampler.shouldSample(newTraceId(), undefined), false);
    assert.equal(compileSampler({ ratio: 1, parentBased: true }).shouldSample(newTraceId(), undefined), true);
    assert.equal(compileSampler({ ratio: 1, parentBased: true }).shouldSample(newTraceId(), false), false);
  });

  it('a plain ratio ignores the parent', () => {
    assert.equal(compileSampler({ ratio: 1, parentBased: false }).shouldSample(newTraceId(), false), true);
    assert.equal(compileSampler({ ratio: 0, parentBased: false }).shouldSample(newTraceId(), true), false);
  });

  it('samples about the configured fraction, the same way for the same trace id', () => {
    const sampler = compileSampler({ ratio: 0.25, parentBased: true });
    let sampled = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const id = newTraceId();
      const decision = sampler.shouldSample(id, undefined);
      assert.equal(sampler.shouldSample(id, undefined), decision);
      if (decision) sampled++;
    }
    assert.ok(Math.abs(sampled / n - 0.25) < 0.02, `sampled ${sampled} of ${n}`);
  });

  it('a lower ratio samples a subset of what a higher one does (decisions agree across services)', () => {
    const low = compileSampler({ ratio: 0.1, parentBased: false });
    const high = compileSampler({ ratio: 0.5, parentBased: false });
    for (let i = 0; i < 5000; i++) {
      const id = newTraceId();
      if (low.shouldSample(id, undefined)) assert.equal(high.shouldSample(id, undefined), true);
    }
  });

  it('per-route samplers override the default, asked once per route', () => {
    const asked: string[] = [];
    const samplers = new RouteSamplers('never', (route) => {
      asked.push(route);
      return route === 'checkout' ? 'always' : undefined;
    });
    assert.equal(samplers.forRoute('checkout').shouldSample(newTraceId(), undefined), true);
    assert.equal(samplers.forRoute('checkout').shouldSample(newTraceId(), undefined), true);
    assert.equal(samplers.forRoute('static').shouldSample(newTraceId(), undefined), false);
    assert.equal(samplers.forRoute(undefined).shouldSample(newTraceId(), undefined), false);
    assert.deepEqual(asked, ['checkout', 'static']);
  });
});

function observe(input: ObservabilityInput, routeSampler?: (route: string) => 'always' | 'never' | undefined) {
  return createObservability({ ...observabilitySchema.parse({ metrics: { processMetrics: false }, ...input }), routeSampler });
}

function record(over: Partial<RequestRecord> = {}): RequestRecord {
  const now = performance.now();
  return {
    listener: 'public', route: 'users-api', upstream: 'users', target: 'http://127.0.0.1:3001', method: 'GET', path: '/api/users/1',
    status: 200, errorCode: undefined, clientAddress: '192.0.2.10', requestId: 'req-1', startTime: now - 3, upstreamStart: now - 2,
    firstByte: now - 1, endTime: now, bytesIn: 0, bytesOut: 10, attempts: 1, userAgent: 'test', ...over,
  };
}

describe('propagation through a request', () => {
  it('continues the caller\'s trace: same trace id, a new span id per attempt, the caller\'s sampled flag', async () => {
    const o = observe({ tracing: { sampler: { ratio: 0 } } });
    const t = o.startRequest({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'rojo=00f067aa0ba902b7', baggage: 'user=alice' }, 'public', 'users-api');
    assert.equal(t.traceId, TRACE_ID);
    assert.equal(t.sampled, true);
    assert.notEqual(t.spanId, PARENT_ID);
    const first = new Map(t.upstreamTraceHeaders(0));
    const retry = new Map(t.upstreamTraceHeaders(1));
    const [, traceId, spanId, flags] = first.get('traceparent')!.split('-');
    assert.equal(traceId, TRACE_ID);
    assert.equal(flags, '01');
    assert.notEqual(spanId, t.spanId, 'the upstream sees the client span, not the server span');
    assert.notEqual(retry.get('traceparent'), first.get('traceparent'), 'each attempt is its own client span');
    assert.equal(first.get('traceparent'), new Map(t.upstreamTraceHeaders(0)).get('traceparent'), 'stable per attempt');
    assert.equal(first.get('tracestate'), 'rojo=00f067aa0ba902b7');
    assert.equal(first.get('baggage'), 'user=alice');
    t.end(record());
    await o.close();
  });

  it('starts a trace when the caller sent none, or an invalid one (and then ignores its tracestate)', async () => {
    const o = observe({ tracing: { sampler: 'always' } });
    const t = o.startRequest({ traceparent: `00-${'0'.repeat(32)}-${PARENT_ID}-01`, tracestate: 'rojo=1' }, 'public', undefined);
    assert.match(t.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(t.traceId, '0'.repeat(32));
    const headers = new Map(t.upstreamTraceHeaders(0));
    assert.equal(headers.get('traceparent')!.slice(0, 36), `00-${t.traceId}-`);
    assert.equal(headers.has('tracestate'), false);
    t.end(record({ route: undefined }));
    await o.close();
  });

  it('sends sampled=00 when the sampler says no, so the upstream does not record either', async () => {
    const o = observe({ tracing: { sampler: 'never' } });
    const t = o.startRequest({}, 'public', 'users-api');
    assert.equal(t.sampled, false);
    assert.match(new Map(t.upstreamTraceHeaders(0)).get('traceparent')!, /-00$/);
    t.end(record());
    await o.close();
  });

  it('uses the route\'s own sampler when one is configured', async () => {
    const o = observe({ tracing: { sampler: 'never' } }, (route) => (route === 'checkout' ? 'always' : undefined));
    assert.equal(o.startRequest({}, 'public', 'checkout').sampled, true);
    assert.equal(o.startRequest({}, 'public', 'users-api').sampled, false);
    await o.close();
  });

  it('with tracing off injects nothing (the client\'s headers pass through) but still gives the log a trace id', async () => {
    const o = observe({ tracing: { enabled: false }, accessLog: { sink: 'stdout' } });
    const t = o.startRequest({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, 'public', 'users-api');
    assert.deepEqual(t.upstreamTraceHeaders(0), []);
    assert.equal(t.traceId, TRACE_ID);
    assert.match(t.spanId, /^[0-9a-f]{16}$/);
    await o.close();
  });

  it('B3 multi-header: continues the caller\'s trace, writes X-B3-* naming each attempt\'s span, not traceparent', async () => {
    const o = observe({ tracing: { sampler: { ratio: 0 }, propagators: ['b3multi'] } });
    const t = o.startRequest({ 'x-b3-traceid': TRACE_ID, 'x-b3-spanid': PARENT_ID, 'x-b3-sampled': '1', traceparent: `00-${'1'.repeat(32)}-${PARENT_ID}-00` }, 'public', 'users-api');
    assert.equal(t.traceId, TRACE_ID, 'B3 is the format configured: the traceparent is not read');
    assert.equal(t.sampled, true);
    const first = new Map(t.upstreamTraceHeaders(0));
    const retry = new Map(t.upstreamTraceHeaders(1));
    assert.deepEqual([...first.keys()], ['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled']);
    assert.equal(first.get('x-b3-traceid'), TRACE_ID);
    assert.equal(first.get('x-b3-sampled'), '1');
    assert.notEqual(first.get('x-b3-spanid'), t.spanId, 'the upstream sees the client span');
    assert.notEqual(retry.get('x-b3-spanid'), first.get('x-b3-spanid'), 'each attempt is its own client span');
    for (const name of ['x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'baggage']) {
      assert.ok(t.traceHeaderNames.has(name), `the client's ${name} is replaced`);
    }
    assert.equal(t.traceHeaderNames.has('traceparent'), false, 'a format not configured passes through');
    t.end(record());
    const trace = o.traces.get(TRACE_ID)!;
    assert.equal(trace.spans.find((s) => s.kind === 'server')!.parentSpanId, PARENT_ID);
    await o.close();
  });

  it('several formats: the first one sent wins, all are written with the same ids; tracestate only with a W3C parent', async () => {
    const o = observe({ tracing: { sampler: { ratio: 0 }, propagators: ['b3', 'tracecontext'] } });
    const fromB3 = o.startRequest({ b3: `${TRACE_ID}-${PARENT_ID}-1`, traceparent: `00-${'1'.repeat(32)}-${PARENT_ID}-00`, tracestate: 'rojo=1' }, 'public', 'users-api');
    assert.equal(fromB3.traceId, TRACE_ID);
    const headers = new Map(fromB3.upstreamTraceHeaders(0));
    const spanId = headers.get('b3')!.split('-')[1]!;
    assert.equal(headers.get('b3'), `${TRACE_ID}-${spanId}-1`);
    assert.equal(headers.get('traceparent'), `00-${TRACE_ID}-${spanId}-01`);
    assert.equal(headers.has('tracestate'), false, 'the caller\'s tracestate belongs to a traceparent that was not used');

    const fromW3c = o.startRequest({ b3: 'not-valid', traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'rojo=1' }, 'public', 'users-api');
    assert.equal(fromW3c.traceId, TRACE_ID, 'an invalid b3 falls through to the next format');
    assert.equal(new Map(fromW3c.upstreamTraceHeaders(0)).get('tracestate'), 'rojo=1');
    await o.close();
  });

  it('B3 without a sampling state leaves the decision to the sampler; a decision alone starts a trace with it', async () => {
    const always = observe({ tracing: { sampler: { ratio: 1 }, propagators: ['b3'] } });
    assert.equal(always.startRequest({ b3: `${TRACE_ID}-${PARENT_ID}` }, 'public', 'users-api').sampled, true);
    await always.close();
    const never = observe({ tracing: { sampler: { ratio: 0 }, propagators: ['b3'] } });
    assert.equal(never.startRequest({ b3: `${TRACE_ID}-${PARENT_ID}` }, 'public', 'users-api').sampled, false);
    const decided = never.startRequest({ b3: '1' }, 'public', 'users-api');
    assert.equal(decided.sampled, true, 'the caller said sample');
    assert.match(decided.traceId, /^[0-9a-f]{32}$/);
    assert.match(new Map(decided.upstreamTraceHeaders(0)).get('b3')!, new RegExp(`^${decided.traceId}-[0-9a-f]{16}-1$`));
    await never.close();
  });

  it('the propagators list is validated: known names, each once', () => {
    assert.equal(observabilitySchema.safeParse({ tracing: { propagators: ['jaeger'] } }).success, false);
    assert.equal(observabilitySchema.safeParse({ tracing: { propagators: ['b3', 'b3'] } }).success, false);
    assert.equal(observabilitySchema.safeParse({ tracing: { propagators: [] } }).success, false);
    assert.deepEqual(observabilitySchema.parse({}).tracing.propagators, ['tracecontext']);
  });

  it('with everything off returns a telemetry that does nothing', async () => {
    const o = observe({ tracing: { enabled: false }, metrics: { enabled: false } });
    const t = o.startRequest({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, 'public', 'users-api');
    assert.equal(t.traceId, '');
    assert.deepEqual(t.upstreamTraceHeaders(0), []);
    t.attemptStart(0, 'http://127.0.0.1:1');
    t.attemptEnd(0, 200, undefined);
    t.end(record());
    await o.close();
  });
});

describe('span attributes', () => {
  it('use the stable OpenTelemetry HTTP semantic-convention names', () => {
    // spans.ts writes these names as literal keys (faster to build); they must equal the package's constants.
    assert.deepEqual(
      [ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_METHOD_ORIGINAL, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_URL_PATH, ATTR_SERVER_ADDRESS,
        ATTR_SERVER_PORT, ATTR_NETWORK_PEER_ADDRESS, ATTR_ERROR_TYPE, ATTR_CLIENT_ADDRESS, ATTR_USER_AGENT_ORIGINAL, ATTR_HTTP_REQUEST_RESEND_COUNT],
      ['http.request.method', 'http.request.method_original', 'http.response.status_code', 'url.path', 'server.address',
        'server.port', 'network.peer.address', 'error.type', 'client.address', 'user_agent.original', 'http.request.resend_count'],
    );
  });

  it('describe the server span and one client span per attempt, retries included', async () => {
    const o = observe({ tracing: { sampler: 'always' } });
    const t = o.startRequest({ host: 'api.example.com:8443', traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, 'public', 'users-api');
    t.attemptStart(0, 'http://10.0.0.7:3001');
    t.attemptEnd(0, undefined, 'upstream_connect_failed');
    t.attemptStart(1, 'http://[::1]:3002');
    t.attemptEnd(1, 503, undefined);
    t.setAttribute('plugin.rate_limit.remaining', 7);
    t.addSpan('auth', performance.now() - 2, performance.now() - 1, { 'plugin.name': 'auth' });
    t.end(record({ status: 502, errorCode: 'upstream_unavailable', attempts: 2, method: 'PURGE' }));
    const trace = o.traces.get(TRACE_ID)!;
    const server = trace.spans.find((s) => s.kind === 'server')!;
    const clients = trace.spans.filter((s) => s.kind === 'client');
    assert.equal(server.parentSpanId, PARENT_ID);
    assert.equal(server.name, '_OTHER users-api');
    assert.equal(server.status, 'error');
    assert.deepEqual(server.attributes, {
      'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE', 'url.path': '/api/users/1', 'client.address': '192.0.2.10',
      'sluice.listener': 'public', 'sluice.request_id': 'req-1', 'http.request.body.size': 0, 'http.response.body.size': 10,
      'http.response.status_code': 502, 'sluice.route': 'users-api', 'sluice.upstream': 'users', 'user_agent.original': 'test',
      'server.address': 'api.example.com', 'server.port': 8443, 'sluice.error_code': 'upstream_unavailable',
      'error.type': 'upstream_unavailable', 'plugin.rate_limit.remaining': 7,
    });
    assert.equal(clients.length, 2);
    assert.ok(clients.every((c) => c.parentSpanId === server.spanId));
    assert.deepEqual(clients[0]!.attributes, {
      'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE', 'server.address': '10.0.0.7', 'server.port': 3001,
      'network.peer.address': '10.0.0.7', 'sluice.target': 'http://10.0.0.7:3001', 'sluice.route': 'users-api', 'sluice.upstream': 'users',
      'error.type': 'upstream_connect_failed',
    });
    assert.equal(clients[1]!.attributes['http.request.resend_count'], 1);
    assert.equal(clients[1]!.attributes['http.response.status_code'], 503);
    assert.equal(clients[1]!.attributes['server.address'], '::1');
    assert.equal(clients[1]!.attributes['error.type'], '503');
    const plugin = trace.spans.find((s) => s.kind === 'internal')!;
    assert.equal(plugin.name, 'auth');
    assert.equal(plugin.parentSpanId, server.spanId);
    await o.close();
  });
});

// The embedded trace store: bounded, errors and slow requests kept preferentially, hops of one trace joined,
// queries as GET /api/v1/traces answers them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { observabilitySchema, type ObservabilityInput } from '../src/config/observability-schema.ts';
import { createObservability, parseTraceQuery, type RequestRecord } from '../src/observability/index.ts';
import { newTraceId } from '../src/observability/trace-context.ts';

function observe(input: ObservabilityInput) {
  return createObservability(observabilitySchema.parse({ metrics: { processMetrics: false }, ...input }));
}

let clock = 1000;
function record(over: Partial<RequestRecord> & { durationMs?: number } = {}): RequestRecord {
  const start = (clock += 10);
  const { durationMs = 5, ...rest } = over;
  return {
    listener: 'public', route: 'users-api', upstream: 'users', target: 'http://127.0.0.1:3001', method: 'GET', path: '/api/users/1',
    status: 200, errorCode: undefined, clientAddress: '192.0.2.10', requestId: `req-${start}`, startTime: start, upstreamStart: start + 1,
    firstByte: start + 2, endTime: start + durationMs, bytesIn: 0, bytesOut: 10, attempts: 1, userAgent: undefined, ...rest,
  };
}

/** One request through the gateway's observability: returns its trace id. */
function request(o: ReturnType<typeof observe>, over: Partial<RequestRecord> & { durationMs?: number; traceparent?: string } = {}): string {
  const { traceparent, ...rest } = over;
  const t = o.startRequest(traceparent === undefined ? {} : { traceparent }, 'public', rest.route ?? 'users-api');
  t.attemptStart(0, 'http://127.0.0.1:3001');
  t.attemptEnd(0, rest.status ?? 200, undefined);
  t.end(record(rest));
  return t.traceId;
}

describe('trace store retention', () => {
  it('keeps the last N sampled traces and forgets older ones', async () => {
    const o = observe({ tracing: { sampler: 'always' }, traceStore: { maxTraces: 10, reservedForNotable: 0.5 } });
    const ids = Array.from({ length: 12 }, () => request(o));
    assert.equal(o.traces.size, 5, 'ordinary traces use the non-reserved half');
    assert.equal(o.traces.get(ids[0]!), undefined);
    assert.ok(o.traces.get(ids[11]!));
    assert.deepEqual(o.traces.query({ limit: 100 }).map((t) => t.traceId), ids.slice(7).reverse(), 'newest first');
    await o.close();
  });

  it('keeps errors and slow requests even when a flood of ordinary traffic follows', async () => {
    const o = observe({ tracing: { sampler: 'always' }, traceStore: { maxTraces: 10, reservedForNotable: 0.3, slowerThan: '1s' } });
    const error = request(o, { status: 503, errorCode: 'upstream_unavailable' });
    const slow = request(o, { durationMs: 1500 });
    for (let i = 0; i < 100; i++) request(o);
    assert.equal(o.traces.get(error)?.error, true);
    assert.equal(o.traces.get(slow)?.slow, true);
    assert.equal(o.traces.size, 9);
    await o.close();
  });

  it('takes at most ordinaryPerSecond ordinary traces a second, but every error and every later hop of a held trace', async () => {
    const o = observe({ tracing: { sampler: 'always' }, traceStore: { maxTraces: 100, ordinaryPerSecond: 5 } });
    // 20 requests 10 ms apart: the 5 of the first second, and less than one more refilled in the next 150 ms.
    const ids = Array.from({ length: 20 }, () => request(o));
    assert.deepEqual(ids.map((id) => o.traces.get(id) !== undefined), ids.map((_, i) => i < 5));
    clock += 1000; // a second later the intake is open again
    assert.ok(o.traces.get(request(o)), 'taken after a second');
    const errors = Array.from({ length: 5 }, () => request(o, { status: 502 }));
    assert.ok(errors.every((id) => o.traces.get(id)?.error === true), 'errors are always taken');
    // A second hop of a held trace (its traceparent carries the trace id) joins it even with no tokens left.
    for (let i = 0; i < 10; i++) request(o);
    const held = ids[0]!;
    request(o, { traceparent: `00-${held}-00f067aa0ba902b7-01`, route: 'users-api' });
    assert.equal(o.traces.get(held)!.spanCount, 4, 'two spans from each hop');
    await o.close();
  });

  it('keeps errors and slow requests that were not sampled, but not ordinary unsampled ones', async () => {
    const o = observe({ tracing: { sampler: 'never' }, traceStore: { slowerThan: '200ms' } });
    const ordinary = request(o);
    const error = request(o, { status: 500 });
    const gone = request(o, { status: 0 });
    const slow = request(o, { durationMs: 250 });
    assert.equal(o.traces.get(ordinary), undefined);
    assert.equal(o.traces.get(error)?.sampled, false);
    assert.equal(o.traces.get(gone)?.error, true, 'a client that left before the response is an error too');
    assert.equal(o.traces.get(slow)?.slow, true);
    await o.close();
  });

  it('bounds the spans kept per trace and counts the rest', async () => {
    const o = observe({ tracing: { sampler: 'always' }, traceStore: { maxSpansPerTrace: 3 } });
    const t = o.startRequest({}, 'public', 'users-api');
    for (let a = 0; a < 5; a++) {
      t.attemptStart(a, 'http://127.0.0.1:3001');
      t.attemptEnd(a, 503, undefined);
    }
    t.end(record({ attempts: 5, status: 503 }));
    const trace = o.traces.get(t.traceId)!;
    assert.equal(trace.spans.length, 3);
    assert.equal(trace.spanCount, 6);
    await o.close();
  });

  it('joins two hops of one trace through Sluice and describes it by the outer request', async () => {
    const o = observe({ tracing: { sampler: 'always' } });
    // The outer request arrives first and ends last; the inner one (the upstream calling back through Sluice)
    // ends first, so it is stored first.
    const outer = o.startRequest({}, 'public', 'frontend');
    const outerRecord = record({ route: 'frontend', path: '/page', durationMs: 50 });
    const upstreamHeader = new Map(outer.upstreamTraceHeaders(0)).get('traceparent')!;
    outer.attemptStart(0, 'http://127.0.0.1:3001');
    const inner = o.startRequest({ traceparent: upstreamHeader }, 'public', 'users-api');
    inner.attemptStart(0, 'http://127.0.0.1:3002');
    inner.attemptEnd(0, 200, undefined);
    inner.end(record({ route: 'users-api', path: '/api/users/1' }));
    outer.attemptEnd(0, 200, undefined);
    outer.end(outerRecord);

    assert.equal(inner.traceId, outer.traceId);
    const trace = o.traces.get(outer.traceId)!;
    assert.equal(trace.route, 'frontend');
    assert.equal(trace.path, '/page');
    assert.equal(trace.spans.length, 4);
    const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
    const innerServer = trace.spans.find((s) => s.kind === 'server' && s.attributes['sluice.route'] === 'users-api')!;
    const outerClient = byId.get(innerServer.parentSpanId!)!;
    assert.equal(outerClient.kind, 'client');
    assert.equal(byId.get(outerClient.parentSpanId!)!.attributes['sluice.route'], 'frontend');
    assert.equal(o.traces.query().length, 1);
    await o.close();
  });

  it('shrinks to a new size on reconfigure, keeping the newest traces', async () => {
    const input: ObservabilityInput = { tracing: { sampler: 'always' }, traceStore: { maxTraces: 20, reservedForNotable: 0 } };
    const o = observe(input);
    const ids = Array.from({ length: 20 }, () => request(o));
    o.reconfigure(observabilitySchema.parse({ ...input, traceStore: { maxTraces: 4, reservedForNotable: 0 } }));
    assert.deepEqual(o.traces.query().map((t) => t.traceId), ids.slice(16).reverse());
    await o.close();
  });
});

describe('trace queries', () => {
  it('filter by route, status (code, class or error), minimum duration, with a limit', async () => {
    const o = observe({ tracing: { sampler: 'always' }, traceStore: { maxTraces: 100 } });
    const a = request(o, { route: 'a', status: 200, durationMs: 5 });
    const b = request(o, { route: 'a', status: 404, durationMs: 50 });
    const c = request(o, { route: 'b', status: 503, durationMs: 500 });
    const d = request(o, { route: 'b', status: 502, errorCode: 'upstream_unavailable', durationMs: 20 });
    const ids = (q: Parameters<typeof o.traces.query>[0]) => o.traces.query(q).map((t) => t.traceId);
    assert.deepEqual(ids({ route: 'a' }), [b, a]);
    assert.deepEqual(ids({ status: '404' }), [b]);
    assert.deepEqual(ids({ status: '5xx' }), [d, c]);
    assert.deepEqual(ids({ status: 'error' }), [d, c]);
    assert.deepEqual(ids({ minDuration: 40 }), [c, b]);
    assert.deepEqual(ids({ route: 'b', minDuration: 100 }), [c]);
    assert.deepEqual(ids({ limit: 2 }), [d, c]);
    const summary = o.traces.query({ route: 'b', status: '502' })[0]!;
    assert.equal(summary.errorCode, 'upstream_unavailable');
    assert.equal(summary.durationMs, 20);
    assert.match(summary.startTime, /^\d{4}-\d\d-\d\dT/);
    assert.equal(o.traces.get(newTraceId()), undefined);
    await o.close();
  });

  it('parses the query string of GET /api/v1/traces', () => {
    const q = (s: string) => parseTraceQuery(new URLSearchParams(s));
    assert.deepEqual(q('route=users-api&status=5xx&minDuration=250&limit=20'), { route: 'users-api', status: '5xx', minDuration: 250, limit: 20 });
    assert.deepEqual(q('minDuration=1.5s'), { minDuration: 1500 });
    assert.deepEqual(q('status=404&limit=5000'), { status: '404', limit: 1000 });
    assert.deepEqual(q(''), {});
    assert.ok('error' in q('status=teapot'));
    assert.ok('error' in q('minDuration=soon'));
    assert.ok('error' in q('limit=-1'));
  });
});

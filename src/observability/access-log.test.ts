// The access-log line: one valid JSON line with the documented fields in order, whatever a client put in its path,
// user agent or request id (a raw newline or quote there must not split or break the line).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCESS_LOG_FIELDS, type AccessLogField } from '../config/observability-schema.ts';
import { AccessLog } from './access-log.ts';
import type { RequestRecord } from './types.ts';

function record(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    listener: 'main', route: 'api', upstream: 'app', target: 'http://127.0.0.1:3001', method: 'GET', path: '/a',
    status: 200, errorCode: undefined, clientAddress: '127.0.0.1', requestId: 'req-1', startTime: 1000,
    upstreamStart: 1000.25, firstByte: 1001.5, endTime: 1002.125, bytesIn: 0, bytesOut: 12, attempts: 1,
    userAgent: 'curl/8', ...overrides,
  };
}

function lineOf(r: RequestRecord, fields?: AccessLogField[], ids = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }): string {
  const log = new AccessLog({ fields, sampling: 1, errorsOnly: false, slowerThan: undefined, sink: 'stdout', buffer: {} } as never, []);
  return log.line(r, ids.traceId, ids.spanId, true);
}

const HOSTILE = ['"quoted"', 'back\\slash', 'new\nline', 'tab\t', '\u0000\u001f\u007f', 'é ü 日本', '😀', 'lone \ud800 high', 'lone \udc00 low', '</script>'];

test('hostile strings in client-controlled fields come out as valid JSON with the same values', () => {
  for (const text of HOSTILE) {
    const line = lineOf(record({ path: `/p/${text}`, userAgent: text, requestId: text, errorCode: text }));
    assert.ok(line.endsWith('}\n'), 'one line, newline-terminated');
    assert.equal(line.indexOf('\n'), line.length - 1, `no raw newline inside the line for ${JSON.stringify(text)}`);
    const parsed = JSON.parse(line);
    assert.equal(parsed.path, `/p/${text}`);
    assert.ok(line.includes(`"user_agent":${JSON.stringify(text)}`), 'written exactly as JSON.stringify writes it');
    assert.equal(parsed.user_agent, text);
    assert.equal(parsed.request_id, text);
    assert.equal(parsed.error_code, text);
  }
});

test('the line holds every field, in the documented order, as JSON.stringify of the record would', () => {
  const r = record({ errorCode: 'upstream_timeout', status: 504 });
  const parsed = JSON.parse(lineOf(r));
  assert.deepEqual(Object.keys(parsed), ['log', ...ACCESS_LOG_FIELDS]);
  assert.equal(parsed.log, 'access');
  assert.match(parsed.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual({ ...parsed, time: undefined }, {
    log: 'access', time: undefined, trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), request_id: 'req-1', listener: 'main',
    route: 'api', upstream: 'app', target: 'http://127.0.0.1:3001', method: 'GET', path: '/a', status: 504,
    error_code: 'upstream_timeout', duration_ms: 2.125, upstream_ms: 1.875, ttfb_ms: 1.5, bytes_in: 0, bytes_out: 12,
    attempts: 1, client_address: '127.0.0.1', user_agent: 'curl/8', sampled: true,
  });
});

test('absent values leave their fields out; without trace ids there is no trace_id, span_id or sampled', () => {
  const r = record({ route: undefined, upstream: undefined, target: undefined, upstreamStart: undefined, firstByte: undefined, userAgent: undefined });
  const parsed = JSON.parse(lineOf(r, undefined, { traceId: '', spanId: '' }));
  for (const gone of ['route', 'upstream', 'target', 'upstream_ms', 'ttfb_ms', 'user_agent', 'error_code', 'trace_id', 'span_id', 'sampled']) {
    assert.equal(gone in parsed, false, `${gone} left out`);
  }
  assert.equal(parsed.status, 200);
});

test('a chosen field set writes only those fields (the log marker always)', () => {
  const parsed = JSON.parse(lineOf(record(), ['status', 'path', 'trace_id']));
  assert.deepEqual(parsed, { log: 'access', trace_id: 'a'.repeat(32), path: '/a', status: 200 });
});

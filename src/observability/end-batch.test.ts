// The logging phase runs in batches: end() returns at once, the work runs for every request that ended in the same
// event-loop turn, in the order they ended, and a read settles what is still queued.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { observabilitySchema } from '../config/observability-schema.ts';
import { EndBatch } from './end-batch.ts';
import { createObservability } from './index.ts';
import type { RequestRecord } from './types.ts';

function recorder(finished: string[]) {
  return (name: string) => ({ finish: (record: RequestRecord) => finished.push(`${name}:${record.status}`) });
}

test('queued ends run after the turn, together and in order; settle() runs them at once, and only once', async () => {
  const finished: string[] = [];
  const ends = new EndBatch();
  const telemetry = recorder(finished);
  ends.add(telemetry('a'), { status: 200 } as RequestRecord);
  ends.add(telemetry('b'), { status: 502 } as RequestRecord);
  assert.deepEqual(finished, [], 'nothing runs in the close handler itself');
  await nextTurn();
  assert.deepEqual(finished, ['a:200', 'b:502']);

  ends.add(telemetry('c'), { status: 404 } as RequestRecord);
  ends.settle();
  assert.deepEqual(finished, ['a:200', 'b:502', 'c:404'], 'settle() runs the queue synchronously');
  await nextTurn();
  assert.deepEqual(finished, ['a:200', 'b:502', 'c:404'], 'the run scheduled for c finds nothing left');
});

test('metrics and the trace store include a request that ended, even when its batch has not run yet', async () => {
  const o = createObservability(observabilitySchema.parse({ metrics: { processMetrics: false } }));
  const t = o.startRequest({}, 'public', 'users-api');
  t.end({
    listener: 'public', route: 'users-api', upstream: 'users', target: 'http://127.0.0.1:3001', method: 'GET', path: '/u/1',
    status: 503, errorCode: undefined, clientAddress: '192.0.2.10', requestId: 'req-1', startTime: 10, upstreamStart: 11,
    firstByte: undefined, endTime: 20, bytesIn: 0, bytesOut: 0, attempts: 1, userAgent: undefined,
  });
  assert.match(await o.metrics.render(false), /sluice_http_requests_total\{[^}]*status_class="5xx"\} 1/);
  assert.equal(o.traces.get(t.traceId)?.error, true, 'the error trace is kept and found');
  await o.close();
});

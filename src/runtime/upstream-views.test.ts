import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TargetReport, UpstreamReport } from '../upstream/registry.ts';
import { mergeWorkerViews } from './upstream-views.ts';

const overload = { inFlight: 1, shed: { max_in_flight: 2, event_loop_delay: 0, heap: 0 }, droppedConnections: 1, eventLoopDelayMs: 3, heapPercent: 10 };

function target(state: TargetReport['state'], inFlight: number): TargetReport {
  return { target: 'http://a', state, healthy: state === 'healthy', inFlight, ...(state === 'healthy' ? {} : { reason: `${state} here` }) };
}

function upstream(state: TargetReport['state'], circuit: 'closed' | 'open', limit: number): UpstreamReport {
  return {
    name: 'app',
    healthyTargets: state === 'healthy' ? 1 : 0,
    panic: false,
    circuit: { state: circuit, requests: 1, failures: 0, consecutiveFailures: 0 },
    adaptiveConcurrency: { limit, inFlight: 1, minRttMs: limit, sampleRttMs: 2, measuring: false, shed: 1 },
    targets: [target(state, 2)],
  };
}

test('the merged view is healthy only where every worker agrees; states are the worst, counters summed', () => {
  const view = mergeWorkerViews([
    { type: 'report', seq: 1, pid: 11, upstreams: [upstream('healthy', 'closed', 10)], overload },
    { type: 'report', seq: 1, pid: 12, upstreams: [upstream('ejected', 'open', 6)], overload },
    { pid: 13, error: 'no answer within 2000 ms' },
  ]);
  const merged = view.upstreams[0]!;
  assert.equal(merged.healthyTargets, 0);
  assert.equal(merged.circuit?.state, 'open');
  assert.deepEqual(
    { limit: merged.adaptiveConcurrency?.limit, inFlight: merged.adaptiveConcurrency?.inFlight, minRttMs: merged.adaptiveConcurrency?.minRttMs, shed: merged.adaptiveConcurrency?.shed },
    { limit: 16, inFlight: 2, minRttMs: 6, shed: 2 },
  );
  const t = merged.targets[0]! as TargetReport & { workers: unknown[] };
  assert.equal(t.state, 'ejected');
  assert.equal(t.healthy, false);
  assert.equal(t.inFlight, 4);
  assert.equal(t.reason, 'ejected here');
  assert.deepEqual(t.workers, [{ pid: 11, state: 'healthy' }, { pid: 12, state: 'ejected', reason: 'ejected here' }]);
  assert.deepEqual(view.overload, { inFlight: 2, shed: { max_in_flight: 4, event_loop_delay: 0, heap: 0 }, droppedConnections: 2, eventLoopDelayMs: 3, heapPercent: 10 });
  assert.deepEqual(view.workers?.[2], { pid: 13, error: 'no answer within 2000 ms' });
});

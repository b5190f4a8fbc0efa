import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricTotals, quantileMs, statsBetween, sumStats } from './window-stats.ts';

/** A prom-client style snapshot as SluiceMetrics.snapshot() returns it. */
function snapshot(requests: Record<string, number>, buckets: Record<string, number>): unknown[] {
  return [
    { name: 'sluice_http_requests_total', type: 'counter', values: Object.entries(requests).map(([cls, value]) => ({ labels: { route: 'r', status_class: cls }, value })) },
    {
      name: 'sluice_http_request_duration_seconds',
      type: 'histogram',
      values: [
        ...Object.entries(buckets).map(([le, value]) => ({ labels: { route: 'r', le }, value, metricName: 'sluice_http_request_duration_seconds_bucket' })),
        { labels: { route: 'r' }, value: 1, metricName: 'sluice_http_request_duration_seconds_sum' },
      ],
    },
  ];
}

test('p99 is interpolated within its bucket, as histogram_quantile does', () => {
  assert.equal(quantileMs({ bounds: [0.1, 0.5], cumulative: [50, 100, 100] }, 0.99), 492);
  assert.equal(quantileMs({ bounds: [0.1, 0.5], cumulative: [100, 100, 100] }, 0.99), 99);
  // In the +Inf bucket: the highest finite bound.
  assert.equal(quantileMs({ bounds: [0.1, 0.5], cumulative: [10, 20, 100] }, 0.99), 500);
  assert.equal(quantileMs({ bounds: [0.1], cumulative: [0, 0] }, 0.99), undefined);
});

test('totals add up every worker; a window is the difference of two readings', () => {
  const base = metricTotals([snapshot({ '2xx': 10, '5xx': 1 }, { '0.1': 11, '+Inf': 11 })]);
  assert.deepEqual(base, { requests: 11, errors: 1, bounds: [0.1], cumulative: [11, 11] });
  const now = metricTotals([snapshot({ '2xx': 30, '5xx': 5 }, { '0.1': 30, '+Inf': 35 }), snapshot({ '2xx': 10, '4xx': 5 }, { '0.1': 15, '+Inf': 15 })]);
  const window = statsBetween(base, now, 't');
  assert.deepEqual(window, { since: 't', requests: 39, errors: 4, bounds: [0.1], cumulative: [34, 39] });
  // A worker that restarted lowers a counter: the window never goes negative.
  assert.equal(statsBetween(now, base, 't').requests, 0);
});

test('instances with different buckets sum without making p99 look better', () => {
  const sum = sumStats([
    { since: 't', requests: 10, errors: 0, bounds: [0.1, 1], cumulative: [10, 10, 10] },
    { since: 't', requests: 10, errors: 2, bounds: [0.5], cumulative: [5, 10] },
  ]);
  assert.deepEqual(sum, { requests: 20, errors: 2, bounds: [0.1, 0.5, 1], cumulative: [10, 15, 15, 20] });
});

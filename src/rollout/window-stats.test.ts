import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricTotals, quantileMs, statsBetween, sumStats, WindowReadings } from './window-stats.ts';

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

test('a window counts per worker: one that dies keeps its requests, a replacement counts from its start, one late to the first reading from its first', () => {
  const since = '2025-01-01T00:00:10.000Z';
  const before = Date.parse(since) - 60_000;
  const worker = (id: string, ok: number, startedAt = before) => ({ id, startedAt, snapshot: snapshot({ '2xx': ok }, { '0.1': ok, '+Inf': ok }) });
  const window = new WindowReadings(since, [worker('1', 100), worker('2', 100)]);
  assert.equal(window.read([worker('1', 120), worker('2', 130)]).requests, 50);
  // Worker 2 died (its last reading stays); worker 3 replaced it within the window and served 5; worker 4 was
  // running all along but missed the first readings (counted from the first reading it answered: 0 so far).
  const later = window.read([worker('1', 140), worker('3', 5, Date.parse(since) + 2000), worker('4', 1000)]);
  assert.deepEqual([later.requests, later.cumulative], [40 + 30 + 5, [75, 75]]);
  assert.equal(window.read([worker('1', 140), worker('3', 5, Date.parse(since) + 2000), worker('4', 1010)]).requests, 85);
  assert.equal(later.since, since);
});

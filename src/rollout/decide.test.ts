import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide } from './decide.ts';
import type { InstanceRecord, Rollout, WindowStats } from './types.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

const rollout: Rollout = {
  id: 'r1', text: 'x', sha256: 'h', author: 'me', message: 'm', baseVersion: 4, canaries: ['a', 'b'], selector: {},
  thresholds: { maxErrorRate: 0.05, maxP99: 300, minRequests: 50 }, window: 10_000, createdAt: at(0), state: 'observing',
};

function stats(requests: number, errors: number, fast = requests): WindowStats {
  // Two buckets: ≤ 100 ms and ≤ 1 s.
  return { since: at(1000), requests, errors, bounds: [0.1, 1], cumulative: [fast, requests, requests] };
}

function canary(id: string, part: InstanceRecord['rollout'], s?: WindowStats, updated = 0): [string, InstanceRecord] {
  return [id, { id, labels: {}, admin: '', pid: 1, startedAt: at(0), configVersion: 4, ...(part ? { rollout: part } : {}), ...(s ? { stats: s } : {}), updatedAt: at(updated) }];
}
const applied = { id: 'r1', state: 'applied' as const, at: at(1000) };

const cases: Array<{ desc: string; live: Array<[string, InstanceRecord]>; now: number; action: string; reason?: RegExp }> = [
  { desc: 'canaries still applying: wait', live: [canary('a', applied), canary('b', undefined)], now: 2000, action: 'wait', reason: /waiting for b/ },
  { desc: 'a canary that never applies: roll back after the apply timeout', live: [canary('a', applied), canary('b', undefined)], now: 31_000, action: 'rollback', reason: /b did not apply the version within 30 s/ },
  { desc: 'a canary refused the version: roll back at once', live: [canary('a', applied), canary('b', { id: 'r1', state: 'refused', error: 'plugin missing', at: at(900) })], now: 1500, action: 'rollback', reason: /canary b refused the version: plugin missing/ },
  { desc: 'every canary gone: roll back', live: [canary('c', undefined)], now: 1500, action: 'rollback', reason: /every canary is gone/ },
  { desc: 'error rate above the threshold with enough requests: roll back before the window ends', live: [canary('a', applied, stats(40, 10)), canary('b', applied, stats(40, 0))], now: 3000, action: 'rollback', reason: /error rate 12\.5% \(10 of 80 requests answered 5xx\) > maxErrorRate 5\.00%/ },
  { desc: 'errors but too few requests yet: wait', live: [canary('a', applied, stats(10, 10)), canary('b', applied, stats(10, 0))], now: 3000, action: 'wait' },
  { desc: 'p99 above maxP99: roll back', live: [canary('a', applied, stats(100, 0, 50)), canary('b', applied, stats(100, 0, 50))], now: 3000, action: 'rollback', reason: /p99 \d+ ms over 200 requests > maxP99 300 ms/ },
  { desc: 'thresholds hold, window running: wait with time left', live: [canary('a', applied, stats(100, 1)), canary('b', applied, stats(100, 0))], now: 3000, action: 'wait', reason: /8 s left/ },
  { desc: 'window over but figures older than its end: wait for the final ones', live: [canary('a', applied, stats(100, 1), 10_000), canary('b', applied, stats(100, 0), 11_000)], now: 11_500, action: 'wait' },
  { desc: 'window over, thresholds held: promote', live: [canary('a', applied, stats(100, 1), 11_200), canary('b', applied, stats(100, 0), 11_100)], now: 11_500, action: 'promote', reason: /error rate 0\.50% ≤ 5\.00%, p99 99 ms ≤ 300 ms over 200 requests in 10 s/ },
  { desc: 'window over with too little traffic: roll back, not enough to judge', live: [canary('a', applied, stats(6, 0), 11_200), canary('b', applied, stats(6, 0), 11_200)], now: 11_500, action: 'rollback', reason: /not enough traffic to judge: 12 requests < minRequests 50/ },
  { desc: 'figures from before the canary applied are not counted', live: [canary('a', { ...applied, at: at(5000) }, stats(100, 100), 15_200), canary('b', applied, stats(0, 0), 15_200)], now: 15_500, action: 'rollback', reason: /not enough traffic/ },
];

for (const c of cases) {
  test(c.desc, () => {
    const verdict = decide(rollout, new Map(c.live), T0 + c.now);
    assert.equal(verdict.action, c.action, verdict.reason);
    if (c.reason) assert.match(verdict.reason, c.reason);
  });
}

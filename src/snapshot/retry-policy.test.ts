import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../config/schema.ts';
import { RetryBudget } from '../resilience/retry-budget.ts';
import { compileRetryPolicy } from './retry-policy.ts';

function policy(retries: Record<string, unknown>) {
  const config = configSchema.parse({ upstreams: [{ name: 'u', targets: [{ url: 'http://127.0.0.1:1' }] }], routes: [{ name: 'r', upstream: 'u', retries }] });
  return compileRetryPolicy(config.routes[0]!.retries, new RetryBudget());
}

describe('compileRetryPolicy', () => {
  const cases: Array<{ desc: string; retries: Record<string, unknown>; methods: Record<string, 'all' | 'connect-failure' | 'none'> }> = [
    { desc: 'idempotent methods retry on every condition', retries: { on: [503] }, methods: { GET: 'all', HEAD: 'all', PUT: 'all', DELETE: 'all', OPTIONS: 'all' } },
    { desc: 'POST and PATCH only after a connect failure (the request never left)', retries: { on: ['connect-failure', 503] }, methods: { POST: 'connect-failure', PATCH: 'connect-failure' } },
    { desc: 'gateway-error and 5xx include connect failures', retries: { on: ['gateway-error'] }, methods: { POST: 'connect-failure' } },
    { desc: 'no connect-failure condition: POST is not retried at all', retries: { on: [503, 'reset'] }, methods: { POST: 'none', GET: 'all' } },
    { desc: 'retryNonIdempotent opts every method in', retries: { on: [503], retryNonIdempotent: true }, methods: { POST: 'all', PATCH: 'all' } },
  ];
  for (const c of cases) {
    test(c.desc, () => {
      const p = policy(c.retries)!;
      for (const [method, scope] of Object.entries(c.methods)) assert.equal(p.forMethod(method), scope, method);
    });
  }

  test('attempts 0 compiles to no policy; the backoff stays under its bound', () => {
    assert.equal(policy({ attempts: 0 }), undefined);
    const p = policy({ backoff: { base: '10ms', max: '40ms' } })!;
    for (let n = 0; n < 50; n++) {
      assert.ok(p.backoff(0) < 10);
      assert.ok(p.backoff(5) < 40);
    }
    assert.equal(p.bufferBody, 65_536);
  });
});

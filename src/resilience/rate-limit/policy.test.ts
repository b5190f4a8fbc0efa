import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rateLimitSchema } from '../../config/resilience-schema.ts';
import { LocalRateLimitStore } from './local-store.ts';
import { RateLimitPolicy } from './policy.ts';
import { degradedDecision } from './store.ts';

describe('RateLimitPolicy', () => {
  const store = () => new LocalRateLimitStore({ now: () => 0, sweepIntervalMs: 0 });

  test('the canonical config: 50 requests from one client pass, the 51st is denied with 429 fields', () => {
    const policy = new RateLimitPolicy('users-api', rateLimitSchema.parse({ rate: '100/s', burst: 50, key: 'client-ip' }), store());
    const ctx = { clientIp: '192.0.2.1', headers: {} };
    for (let i = 0; i < 50; i++) assert.equal((policy.take(ctx) as { allowed: boolean }).allowed, true);
    const denied = policy.take(ctx) as ReturnType<typeof degradedDecision>;
    assert.equal(denied.allowed, false);
    assert.deepEqual(policy.fields(denied), {
      'ratelimit-policy': '"users-api";q=100;w=1',
      ratelimit: '"users-api";r=0;t=1',
      'retry-after': '1',
    });
    assert.equal((policy.take({ clientIp: '192.0.2.2', headers: {} }) as { allowed: boolean }).allowed, true, 'another client has its own bucket');
  });

  test('headers: false sends only Retry-After, on denials', () => {
    const policy = new RateLimitPolicy('r', rateLimitSchema.parse({ rate: '1/m', headers: false }), store());
    const ctx = { clientIp: 'x', headers: {} };
    assert.deepEqual(policy.fields(policy.take(ctx) as ReturnType<typeof degradedDecision>), {});
    assert.deepEqual(policy.fields(policy.take(ctx) as ReturnType<typeof degradedDecision>), { 'retry-after': '60' });
  });

  test('a degraded decision (store unreachable) carries no RateLimit fields', () => {
    const policy = new RateLimitPolicy('r', rateLimitSchema.parse({ rate: '10/s' }), store());
    const rate = { count: 10, periodMs: 1000 };
    assert.deepEqual(policy.fields(degradedDecision('open', rate)), {});
    assert.deepEqual(policy.fields(degradedDecision('closed', rate)), { 'retry-after': '1' });
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rateLimitFields, rateLimitPolicyValue, retryAfterValue, sfString } from './headers.ts';
import { compileRateLimitKey } from './key.ts';
import { parseRate } from './rate.ts';

describe('rate-limit headers (draft-ietf-httpapi-ratelimit-headers-10)', () => {
  test('RateLimit-Policy gives the rate as quota per window in seconds', () => {
    assert.equal(rateLimitPolicyValue('users-api', parseRate('100/s')!), '"users-api";q=100;w=1');
    assert.equal(rateLimitPolicyValue('users-api', parseRate('6000/m')!), '"users-api";q=6000;w=60');
    assert.equal(rateLimitPolicyValue('slow', parseRate('0.5/s')!), '"slow";q=1;w=2');
  });

  test('an allowed request gets RateLimit with r and t, and no Retry-After', () => {
    const fields = rateLimitFields('users-api', parseRate('100/s')!);
    assert.deepEqual(fields({ allowed: true, remaining: 42, resetMs: 80, retryAfterMs: 0 }), {
      'ratelimit-policy': '"users-api";q=100;w=1',
      ratelimit: '"users-api";r=42;t=1',
    });
  });

  test('a denied request gets Retry-After in whole seconds, at least 1', () => {
    const fields = rateLimitFields('r', parseRate('1/m')!);
    const denied = fields({ allowed: false, remaining: 0, resetMs: 59_001, retryAfterMs: 59_001 });
    assert.equal(denied.ratelimit, '"r";r=0;t=60');
    assert.equal(denied['retry-after'], '60');
    assert.equal(retryAfterValue({ allowed: false, remaining: 0, resetMs: 10, retryAfterMs: 10 }), '1');
  });

  test('policy names are valid sf-strings', () => {
    assert.equal(sfString('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(sfString('café'), '"caf?"');
  });
});

describe('compileRateLimitKey', () => {
  const ctx = { clientIp: '192.0.2.7', headers: { 'x-api-key': 'k1' } };
  test('client-ip', () => assert.equal(compileRateLimitKey('p', 'client-ip')(ctx), 'p|ip|192.0.2.7'));
  test('route: one bucket for everyone', () => assert.equal(compileRateLimitKey('p', 'route')(ctx), 'p|route'));
  test('header:NAME, case-insensitive name', () => assert.equal(compileRateLimitKey('p', 'header:X-Api-Key')(ctx), 'p|h|k1'));
  test('a missing header falls back to the client address', () => {
    assert.equal(compileRateLimitKey('p', 'header:x-other')(ctx), 'p|ip|192.0.2.7');
  });
  test('consumer, or the client address when anonymous', () => {
    const keyOf = compileRateLimitKey('p', 'consumer');
    assert.equal(keyOf({ ...ctx, consumer: 'alice' }), 'p|c|alice');
    assert.equal(keyOf(ctx), 'p|ip|192.0.2.7');
  });
  test('an IP and a header with the same text do not share a bucket', () => {
    const byIp = compileRateLimitKey('p', 'client-ip')({ clientIp: 'x', headers: {} });
    const byHeader = compileRateLimitKey('p', 'header:h')({ clientIp: 'y', headers: { h: 'x' } });
    assert.notEqual(byIp, byHeader);
  });
  test('unknown specs are rejected at compile time', () => {
    assert.throws(() => compileRateLimitKey('p', 'cookie:x' as 'route'), /unknown rate-limit key/);
    assert.throws(() => compileRateLimitKey('p', 'header:'), /needs a header name/);
  });
});

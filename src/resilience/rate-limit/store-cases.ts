// One suite, every store: the behaviour a rate-limit store must have whatever holds the buckets. Run by
// local-store.test.ts, cluster-store.test.ts and test/resilience-redis-store.test.ts. Rates are slow enough
// (1/s and slower) that a real clock cannot refill a bucket while a case runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRate } from './rate.ts';
import type { RateLimitStore } from './store.ts';

const ONE_PER_SECOND = parseRate('1/s')!;
const SLOW = parseRate('60/h')!; // one a minute

/** Registers the shared cases; `store()` gives the store under test, `prefix` keeps keys apart between runs. */
export function rateLimitStoreCases(store: () => RateLimitStore, prefix: string): void {
  let n = 0;
  const key = (name: string) => `${prefix}:${name}:${n++}:${process.pid}`;

  test('a full bucket lets `burst` requests through at once, then denies', async () => {
    const k = key('burst');
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await store().take(k, SLOW, 5));
    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, true, true, false]);
    assert.deepEqual(results.map((r) => r.remaining), [4, 3, 2, 1, 0, 0]);
  });

  test('a denied request is told when to come back: one emission interval', async () => {
    const k = key('retry-after');
    await store().take(k, SLOW, 1);
    const denied = await store().take(k, SLOW, 1);
    assert.equal(denied.allowed, false);
    assert.ok(denied.retryAfterMs > 59_000 && denied.retryAfterMs <= 60_000, `retryAfterMs ${denied.retryAfterMs}`);
    assert.ok(denied.resetMs > 59_000 && denied.resetMs <= 60_000, `resetMs ${denied.resetMs}`);
  });

  test('resetMs grows with the requests taken: the time to a full bucket', async () => {
    const k = key('reset');
    const first = await store().take(k, SLOW, 10);
    const second = await store().take(k, SLOW, 10);
    assert.ok(first.resetMs > 59_000 && first.resetMs <= 60_000, `first ${first.resetMs}`);
    assert.ok(second.resetMs > 119_000 && second.resetMs <= 120_000, `second ${second.resetMs}`);
  });

  test('keys are independent buckets', async () => {
    const a = key('a');
    const b = key('b');
    assert.equal((await store().take(a, SLOW, 1)).allowed, true);
    assert.equal((await store().take(a, SLOW, 1)).allowed, false);
    assert.equal((await store().take(b, SLOW, 1)).allowed, true);
  });

  test('a cost takes that many requests from the bucket; more than is left is denied without taking any', async () => {
    const k = key('cost');
    const big = await store().take(k, SLOW, 10, 7);
    assert.equal(big.allowed, true);
    assert.equal(big.remaining, 3);
    const tooBig = await store().take(k, SLOW, 10, 4);
    assert.equal(tooBig.allowed, false);
    assert.equal(tooBig.remaining, 3);
    assert.equal((await store().take(k, SLOW, 10, 3)).allowed, true);
  });

  test('a denied request does not use up the bucket', async () => {
    const k = key('denied-free');
    await store().take(k, ONE_PER_SECOND, 1);
    for (let i = 0; i < 20; i++) await store().take(k, ONE_PER_SECOND, 1);
    const last = await store().take(k, ONE_PER_SECOND, 1);
    assert.ok(last.retryAfterMs <= 1000, `hammering does not push the next allowed time out: ${last.retryAfterMs}`);
  });
}

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { exponentialBackoff } from './backoff.ts';
import { RetryBudget } from './retry-budget.ts';

describe('RetryBudget', () => {
  test('always allows minRetryConcurrency retries, even with no load', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetryConcurrency: 3 });
    assert.deepEqual([1, 2, 3, 4].map(() => budget.tryAcquireRetry()), [true, true, true, false]);
    assert.equal(budget.refused, 1);
  });

  test('retries in flight are capped at ratio × requests in flight', () => {
    const budget = new RetryBudget({ ratio: 0.2, minRetryConcurrency: 0 });
    for (let i = 0; i < 100; i++) budget.requestStarted();
    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    assert.equal(granted, 20);
    // A finished retry frees its slot.
    budget.releaseRetry();
    assert.equal(budget.tryAcquireRetry(), true);
    assert.equal(budget.tryAcquireRetry(), false);
  });

  test('when every request of a failing upstream wants a retry, extra load stays at the ratio', () => {
    const budget = new RetryBudget({ ratio: 0.25, minRetryConcurrency: 2 });
    for (let i = 0; i < 400; i++) budget.requestStarted();
    let retries = 0;
    for (let i = 0; i < 400; i++) if (budget.tryAcquireRetry()) retries++;
    assert.equal(retries, 100);
    assert.equal(budget.refused, 300);
  });

  test('counters never go negative on unbalanced calls', () => {
    const budget = new RetryBudget();
    budget.requestFinished();
    budget.releaseRetry();
    assert.equal(budget.activeRequests, 0);
    assert.equal(budget.activeRetries, 0);
  });

  test('rejects a ratio outside [0, 1]', () => {
    assert.throws(() => new RetryBudget({ ratio: 1.5 }), RangeError);
  });
});

describe('exponentialBackoff', () => {
  test('the bound doubles per retry up to maxMs (random at its top)', () => {
    const backoff = exponentialBackoff({ baseMs: 10, maxMs: 100, random: () => 0.9999999 });
    assert.deepEqual([0, 1, 2, 3, 4, 5, 60, 5000].map(backoff), [9, 19, 39, 79, 99, 99, 99, 99]);
  });

  test('full jitter: delays spread over [0, bound)', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const backoff = exponentialBackoff({ baseMs: 100, maxMs: 100, random });
    const delays = Array.from({ length: 2000 }, () => backoff(3));
    assert.ok(Math.min(...delays) < 5 && Math.max(...delays) > 95, 'covers the whole range');
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    assert.ok(mean > 45 && mean < 55, `mean ${mean} near half the bound`);
  });

  test('defaults: 25 ms base, 250 ms cap', () => {
    const backoff = exponentialBackoff({ random: () => 0.5 });
    assert.equal(backoff(0), 12);
    assert.equal(backoff(10), 125);
  });

  test('rejects maxMs below baseMs', () => {
    assert.throws(() => exponentialBackoff({ baseMs: 100, maxMs: 10 }), RangeError);
  });
});

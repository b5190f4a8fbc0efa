import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { LocalRateLimitStore } from './local-store.ts';
import { parseRate } from './rate.ts';
import { rateLimitStoreCases } from './store-cases.ts';

describe('LocalRateLimitStore: common cases', () => {
  const store = new LocalRateLimitStore();
  after(() => store.close());
  rateLimitStoreCases(() => store, 'local');
});

describe('LocalRateLimitStore', () => {
  const rate = parseRate('10/s')!; // one per 100 ms

  test('refills at the rate: one more request per emission interval', () => {
    const clock = { t: 0 };
    const store = new LocalRateLimitStore({ now: () => clock.t, sweepIntervalMs: 0 });
    for (let i = 0; i < 3; i++) assert.equal(store.take('k', rate, 3).allowed, true);
    assert.equal(store.take('k', rate, 3).allowed, false);
    clock.t += 99;
    assert.equal(store.take('k', rate, 3).allowed, false);
    clock.t += 1;
    assert.equal(store.take('k', rate, 3).allowed, true);
    assert.equal(store.take('k', rate, 3).allowed, false);
  });

  test('over a long run exactly rate × time (+ burst) requests pass', () => {
    const clock = { t: 0 };
    const store = new LocalRateLimitStore({ now: () => clock.t, sweepIntervalMs: 0 });
    let allowed = 0;
    for (clock.t = 0; clock.t < 10_000; clock.t += 7) if (store.take('k', rate, 5).allowed) allowed++;
    assert.equal(allowed, 100 + 5 - 1); // 10 s × 10/s, plus the burst, less the one whose slot is at t = 10 s
  });

  test('sweep deletes full buckets only', () => {
    const clock = { t: 0 };
    const store = new LocalRateLimitStore({ now: () => clock.t, sweepIntervalMs: 0 });
    store.take('once', rate, 5); // full again after 100 ms
    for (let i = 0; i < 5; i++) store.take('drained', rate, 5); // full again after 500 ms
    clock.t = 200;
    assert.equal(store.sweep(), 1);
    assert.equal(store.size, 1);
    clock.t = 500;
    assert.equal(store.sweep(), 1);
    assert.equal(store.size, 0);
  });

  test('bounded: beyond maxKeys the least recently used key is evicted', () => {
    const clock = { t: 0 };
    const store = new LocalRateLimitStore({ now: () => clock.t, sweepIntervalMs: 0, maxKeys: 3 });
    store.take('a', rate, 1);
    store.take('b', rate, 1);
    store.take('c', rate, 1);
    clock.t = 150; // a, b and c are full again
    store.take('a', rate, 1); // a is now the most recent
    store.take('d', rate, 1); // evicts b (least recently used), which was full: not counted
    assert.equal(store.size, 3);
    assert.equal(store.evicted, 0);
    store.take('e', rate, 1); // evicts c, full too
    store.take('f', rate, 1); // evicts a, still drained: counted
    assert.equal(store.evicted, 1);
    assert.equal(store.take('d', rate, 1).allowed, false, 'd kept its bucket');
  });

  test('denied requests do not create or touch entries', () => {
    const store = new LocalRateLimitStore({ now: () => 0, sweepIntervalMs: 0 });
    store.take('k', rate, 1, 5);
    assert.equal(store.size, 0);
  });
});

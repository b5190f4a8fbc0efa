import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gcra } from './gcra.ts';
import { emissionIntervalMs, parseRate } from './rate.ts';

describe('gcra', () => {
  test('from an empty bucket, burst requests pass at the same instant', () => {
    let tat = 0;
    const allowed: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const out = gcra(tat, 0, 100, 3);
      allowed.push(out.allowed);
      tat = out.tat;
    }
    assert.deepEqual(allowed, [true, true, true, false]);
    assert.equal(tat, 300);
  });

  test('a denied request leaves the TAT where it was', () => {
    const out = gcra(300, 0, 100, 3);
    assert.equal(out.allowed, false);
    assert.equal(out.tat, 300);
    assert.equal(out.retryAfterMs, 100);
    assert.equal(out.resetMs, 300);
    assert.equal(out.remaining, 0);
  });

  test('a TAT in the past counts as a full bucket', () => {
    const out = gcra(5, 1000, 100, 3);
    assert.equal(out.allowed, true);
    assert.equal(out.tat, 1100);
    assert.equal(out.remaining, 2);
  });

  test('rates with a non-integral interval do not lose requests to rounding', () => {
    const interval = emissionIntervalMs(parseRate('3/s')!);
    let tat = 0;
    let allowed = 0;
    for (let i = 0; i < 10; i++) {
      const out = gcra(tat, 0, interval, 10);
      if (out.allowed) allowed++;
      tat = out.tat;
    }
    assert.equal(allowed, 10);
  });

  test('cost larger than burst is never allowed', () => {
    assert.equal(gcra(0, 0, 100, 3, 4).allowed, false);
  });
});

describe('parseRate', () => {
  const cases: Array<{ text: string; rate: ReturnType<typeof parseRate> }> = [
    { text: '100/s', rate: { count: 100, periodMs: 1000 } },
    { text: '6000/m', rate: { count: 6000, periodMs: 60_000 } },
    { text: '10 / h', rate: { count: 10, periodMs: 3_600_000 } },
    { text: '0.5/s', rate: { count: 0.5, periodMs: 1000 } },
    { text: '1000/d', rate: { count: 1000, periodMs: 86_400_000 } },
    { text: '0/s', rate: undefined },
    { text: '100', rate: undefined },
    { text: '100/sec', rate: undefined },
    { text: '100/5s', rate: undefined },
    { text: '-1/s', rate: undefined },
  ];
  for (const { text, rate } of cases) test(`${JSON.stringify(text)}`, () => assert.deepEqual(parseRate(text), rate));
});

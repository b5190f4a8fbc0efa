import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OutlierDetector, shouldPanic, type OutlierDetectionOptions, type OutlierEvent, type OutlierResult } from './outlier-detection.ts';

function detector(targets: string[], options: OutlierDetectionOptions = {}) {
  const clock = { t: 1_000_000 };
  const events: OutlierEvent<string>[] = [];
  const d = new OutlierDetector<string>({ now: () => clock.t, ...options });
  d.setTargets(targets);
  d.onChange((e) => events.push(e));
  return { d, clock, events };
}

function feed(d: OutlierDetector<string>, target: string, result: OutlierResult, times: number): void {
  for (let i = 0; i < times; i++) d.onResult(target, result);
}

describe('OutlierDetector', () => {
  test('consecutive gateway errors eject the target for baseEjectionMs', () => {
    const { d, clock, events } = detector(['a', 'b'], { consecutiveGatewayErrors: 3, baseEjectionMs: 10_000 });
    feed(d, 'a', 'gateway-error', 2);
    assert.equal(d.isEjected('a'), false);
    d.onResult('a', 502);
    assert.equal(d.isEjected('a'), true);
    assert.equal(d.isEjected('b'), false);
    assert.deepEqual(events[0], { target: 'a', ejected: true, reason: 'consecutive-gateway-errors', durationMs: 10_000, timesEjected: 1 });
    clock.t += 9_999;
    assert.equal(d.isEjected('a'), true);
    clock.t += 1;
    assert.equal(d.isEjected('a'), false);
    assert.equal(events[1]!.reason, 'ejection-elapsed');
  });

  test('consecutive 5xx eject; a success in between resets the count', () => {
    const { d } = detector(['a', 'b'], { consecutive5xx: 3, consecutiveGatewayErrors: 0 });
    for (let i = 0; i < 10; i++) {
      feed(d, 'a', 500, 2);
      d.onResult('a', 200);
    }
    assert.equal(d.isEjected('a'), false);
    feed(d, 'a', 500, 3);
    assert.equal(d.isEjected('a'), true);
  });

  test('a 500 breaks a run of gateway errors but counts towards consecutive 5xx', () => {
    const { d } = detector(['a', 'b'], { consecutive5xx: 10, consecutiveGatewayErrors: 3 });
    feed(d, 'a', 503, 2);
    d.onResult('a', 500);
    feed(d, 'a', 'gateway-error', 2);
    assert.equal(d.isEjected('a'), false);
    d.onResult('a', 'gateway-error');
    assert.equal(d.isEjected('a'), true);
  });

  test('4xx answers are the client\'s fault and reset the counts', () => {
    const { d } = detector(['a', 'b'], { consecutive5xx: 2 });
    for (let i = 0; i < 10; i++) {
      d.onResult('a', 500);
      d.onResult('a', 404);
    }
    assert.equal(d.isEjected('a'), false);
  });

  test('each new ejection lasts base × times ejected, capped at maxEjectionMs', () => {
    const { d, clock, events } = detector(['a', 'b'], { consecutiveGatewayErrors: 1, baseEjectionMs: 1000, maxEjectionMs: 2500 });
    const durations: number[] = [];
    for (let i = 0; i < 4; i++) {
      d.onResult('a', 'gateway-error');
      durations.push(events.at(-1)!.durationMs);
      clock.t += events.at(-1)!.durationMs; // back exactly when the ejection ends, then fails again at once
      d.isEjected('a');
    }
    assert.deepEqual(durations, [1000, 2000, 2500, 2500]);
  });

  test('the ejection multiplier decays while the target stays healthy', () => {
    const { d, clock, events } = detector(['a', 'b'], { consecutiveGatewayErrors: 1, baseEjectionMs: 1000, maxEjectionMs: 100_000 });
    for (let i = 0; i < 3; i++) {
      d.onResult('a', 'gateway-error');
      clock.t += events.at(-1)!.durationMs;
      d.isEjected('a');
    }
    assert.equal(events.at(-1)!.timesEjected, 3);
    clock.t += 2_000; // two base times healthy: multiplier 3 → 1
    d.onResult('a', 'gateway-error');
    assert.equal(events.at(-1)!.timesEjected, 2);
    assert.equal(events.at(-1)!.durationMs, 2000);
  });

  test('never more than maxEjectionPercent of the targets, but always at least one', () => {
    const four = detector(['a', 'b', 'c', 'd'], { consecutiveGatewayErrors: 1, maxEjectionPercent: 50 });
    for (const t of ['a', 'b', 'c', 'd']) four.d.onResult(t, 'gateway-error');
    assert.equal(four.d.ejectedCount(), 2);
    assert.deepEqual(['a', 'b', 'c', 'd'].map((t) => four.d.isEjected(t)), [true, true, false, false]);

    const two = detector(['a', 'b'], { consecutiveGatewayErrors: 1, maxEjectionPercent: 10 });
    two.d.onResult('a', 'gateway-error');
    two.d.onResult('b', 'gateway-error');
    assert.equal(two.d.ejectedCount(), 1, 'at least one may be ejected even when 10 % of 2 rounds to 0');
  });

  test('once an ejection ends, another target may take the freed slot', () => {
    const { d, clock } = detector(['a', 'b'], { consecutiveGatewayErrors: 1, baseEjectionMs: 1000, maxEjectionPercent: 50 });
    d.onResult('a', 'gateway-error');
    d.onResult('b', 'gateway-error');
    assert.equal(d.isEjected('b'), false);
    clock.t += 1000;
    d.onResult('b', 'gateway-error');
    assert.equal(d.isEjected('b'), true);
    assert.equal(d.isEjected('a'), false);
  });

  test('failures of an ejected target\'s in-flight requests do not extend its ejection', () => {
    const { d, events } = detector(['a', 'b'], { consecutiveGatewayErrors: 1, baseEjectionMs: 1000 });
    feed(d, 'a', 'gateway-error', 5);
    assert.equal(events.length, 1);
  });

  test('setTargets keeps state of remaining targets and forgets departed ones', () => {
    const { d } = detector(['a', 'b', 'c'], { consecutiveGatewayErrors: 1 });
    d.onResult('a', 'gateway-error');
    d.setTargets(['a', 'c', 'd']);
    assert.equal(d.isEjected('a'), true, 'survives a reload');
    assert.equal(d.isEjected('b'), false);
    d.onResult('b', 'gateway-error'); // unknown: ignored
    assert.equal(d.states().length, 3);
    assert.equal(d.nextReturnAt(), 1_000_000 + 30_000);
  });
});

describe('shouldPanic', () => {
  const cases: Array<{ desc: string; healthy: number; total: number; threshold: number; panic: boolean }> = [
    { desc: 'half healthy at 50 % is not panic', healthy: 2, total: 4, threshold: 50, panic: false },
    { desc: 'one of four at 50 % is panic', healthy: 1, total: 4, threshold: 50, panic: true },
    { desc: 'none healthy is panic', healthy: 0, total: 3, threshold: 1, panic: true },
    { desc: 'threshold 0 never panics', healthy: 0, total: 3, threshold: 0, panic: false },
    { desc: 'no targets is not panic', healthy: 0, total: 0, threshold: 50, panic: false },
  ];
  for (const c of cases) test(c.desc, () => assert.equal(shouldPanic(c.healthy, c.total, c.threshold), c.panic));
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitTransition } from './circuit-breaker.ts';

function breakerWithClock(options: CircuitBreakerOptions = {}) {
  const clock = { t: 1_000_000 };
  const transitions: CircuitTransition[] = [];
  const breaker = new CircuitBreaker({ now: () => clock.t, ...options });
  breaker.onTransition((t) => transitions.push(t));
  return { clock, breaker, transitions };
}

function run(breaker: CircuitBreaker, ok: boolean, times = 1): void {
  for (let i = 0; i < times; i++) {
    assert.ok(breaker.tryAcquire(), 'expected the request to be admitted');
    breaker.onResult(ok);
  }
}

describe('CircuitBreaker', () => {
  test('stays closed while failures stay under the thresholds', () => {
    const { breaker } = breakerWithClock({ consecutiveFailures: 5, minRequests: 10, failureRatePercent: 50 });
    for (let i = 0; i < 100; i++) run(breaker, i % 3 !== 0); // a third fail, never 5 in a row
    assert.equal(breaker.state, 'closed');
  });

  test('opens after N consecutive failures and then fails fast', () => {
    const { breaker, transitions } = breakerWithClock({ consecutiveFailures: 3, minRequests: 1000 });
    run(breaker, false, 3);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.tryAcquire(), false);
    assert.deepEqual(transitions.map((t) => [t.from, t.to, t.reason]), [['closed', 'open', 'consecutive-failures']]);
  });

  test('a success in between resets the consecutive count', () => {
    const { breaker } = breakerWithClock({ consecutiveFailures: 3, minRequests: 1000 });
    for (let i = 0; i < 10; i++) {
      run(breaker, false, 2);
      run(breaker, true);
    }
    assert.equal(breaker.state, 'closed');
  });

  test('opens on the error rate only once the window holds minRequests', () => {
    const { breaker } = breakerWithClock({ consecutiveFailures: 0, minRequests: 20, failureRatePercent: 50 });
    // 19 requests, all failures: under the minimum count, still closed.
    run(breaker, false, 19);
    assert.equal(breaker.state, 'closed');
    run(breaker, false);
    assert.equal(breaker.state, 'open');
  });

  test('the error-rate window slides: old failures fall out', () => {
    const { breaker, clock } = breakerWithClock({ consecutiveFailures: 0, minRequests: 10, failureRatePercent: 50, windowMs: 10_000, buckets: 10 });
    run(breaker, false, 9); // 9 failures at t0
    clock.t += 10_500; // all of them leave the window
    run(breaker, true, 5);
    run(breaker, false, 4); // 4 of 9 in the window: 44 %, and under minRequests anyway
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.stats().requests, 9);
    assert.equal(breaker.stats().failures, 4);
  });

  test('failures spread over the window count together', () => {
    const { breaker, clock } = breakerWithClock({ consecutiveFailures: 0, minRequests: 10, failureRatePercent: 50, windowMs: 10_000, buckets: 10 });
    for (let i = 0; i < 10; i++) {
      run(breaker, i % 2 === 0);
      clock.t += 900;
    }
    assert.equal(breaker.state, 'open');
  });

  test('open → half-open after openMs, with Retry-After counting down', () => {
    const { breaker, clock } = breakerWithClock({ consecutiveFailures: 1, openMs: 30_000 });
    run(breaker, false);
    assert.equal(breaker.retryAfterSeconds(), 30);
    clock.t += 10_100;
    assert.equal(breaker.retryAfterSeconds(), 20);
    assert.equal(breaker.tryAcquire(), false);
    clock.t += 20_000;
    assert.equal(breaker.state, 'half-open');
  });

  test('half-open admits halfOpenRequests probes; their success closes the circuit', () => {
    const { breaker, clock, transitions } = breakerWithClock({ consecutiveFailures: 1, openMs: 1000, halfOpenRequests: 2 });
    run(breaker, false);
    clock.t += 1000;
    assert.equal(breaker.tryAcquire(), true);
    assert.equal(breaker.tryAcquire(), true);
    assert.equal(breaker.tryAcquire(), false, 'only two probes at once');
    breaker.onResult(true);
    assert.equal(breaker.state, 'half-open');
    breaker.onResult(true);
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(transitions.map((t) => t.to), ['open', 'half-open', 'closed']);
    assert.equal(breaker.tryAcquire(), true);
  });

  test('a failed probe reopens the circuit, and the open time doubles up to maxOpenMs', () => {
    const { breaker, clock, transitions } = breakerWithClock({ consecutiveFailures: 1, openMs: 1000, maxOpenMs: 3000 });
    run(breaker, false);
    for (const expected of [2, 3, 3]) {
      clock.t += 10_000;
      assert.equal(breaker.tryAcquire(), true);
      breaker.onResult(false);
      assert.equal(breaker.state, 'open');
      assert.equal(breaker.retryAfterSeconds(), expected);
    }
    assert.equal(transitions.at(-1)!.reason, 'probe-failed');
    // A success resets the open time to openMs for the next opening.
    clock.t += 10_000;
    run(breaker, true);
    run(breaker, false);
    assert.equal(breaker.retryAfterSeconds(), 1);
  });

  test('after closing, the failures that opened it are forgotten', () => {
    const { breaker, clock } = breakerWithClock({ consecutiveFailures: 0, minRequests: 4, failureRatePercent: 50, openMs: 100 });
    run(breaker, false, 4);
    clock.t += 100;
    run(breaker, true); // probe closes
    run(breaker, true);
    assert.equal(breaker.state, 'closed');
  });

  test('results of requests admitted before the circuit opened do not count as probes', () => {
    const { breaker, clock } = breakerWithClock({ consecutiveFailures: 2, openMs: 1000 });
    assert.ok(breaker.tryAcquire());
    assert.ok(breaker.tryAcquire());
    assert.ok(breaker.tryAcquire()); // three in flight
    breaker.onResult(false);
    breaker.onResult(false); // opens
    breaker.onResult(true); // late result while open: ignored
    assert.equal(breaker.state, 'open');
    clock.t += 1000;
    assert.equal(breaker.state, 'half-open');
    breaker.onResult(true); // no probe in flight: ignored
    assert.equal(breaker.state, 'half-open');
  });

  test('onCancel frees a half-open probe slot without a verdict; in closed state it records nothing', () => {
    const { clock, breaker, transitions } = breakerWithClock({ consecutiveFailures: 1, openMs: 1000 });
    breaker.tryAcquire();
    breaker.onCancel();
    assert.equal(breaker.stats().requests, 0, 'a cancelled request is not counted');
    run(breaker, false);
    clock.t += 1000;
    assert.ok(breaker.tryAcquire(), 'the probe');
    assert.equal(breaker.tryAcquire(), false, 'one probe at a time');
    breaker.onCancel(); // its client left
    assert.equal(breaker.state, 'half-open');
    assert.ok(breaker.tryAcquire(), 'the slot is free again');
    breaker.onResult(true);
    assert.deepEqual(transitions.map((t) => t.to), ['open', 'half-open', 'closed']);
  });

  test('reset closes it at once; unsubscribe stops notifications', () => {
    const { breaker, transitions } = breakerWithClock({ consecutiveFailures: 1 });
    const seen: string[] = [];
    const off = breaker.onTransition((t) => seen.push(t.to));
    run(breaker, false);
    off();
    breaker.reset();
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(seen, ['open']);
    assert.deepEqual(transitions.map((t) => `${t.to}:${t.reason}`), ['open:consecutive-failures', 'closed:reset']);
  });

  test('stats report the window and when an open circuit admits probes', () => {
    const { breaker, clock } = breakerWithClock({ consecutiveFailures: 2, openMs: 5000 });
    run(breaker, true);
    run(breaker, false, 2);
    assert.deepEqual(breaker.stats(), { state: 'open', requests: 3, failures: 2, consecutiveFailures: 2, opensUntil: clock.t + 5000 });
  });
});

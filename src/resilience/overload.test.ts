import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OverloadGuard } from './overload.ts';

describe('OverloadGuard', () => {
  test('sheds beyond maxInFlight and serves again once requests finish', () => {
    const guard = new OverloadGuard({ maxInFlight: 2 });
    assert.equal(guard.shouldShed(), undefined);
    guard.requestStarted();
    guard.requestStarted();
    assert.equal(guard.shouldShed(), 'max_in_flight');
    guard.requestFinished();
    assert.equal(guard.shouldShed(), undefined);
  });

  test('event-loop delay and heap are judged at sample time, not per request', () => {
    const readings = { delay: 0, heap: 10, delayReads: 0 };
    const guard = new OverloadGuard({
      maxEventLoopDelayMs: 100,
      maxHeapPercent: 90,
      readEventLoopDelayMs: () => (readings.delayReads++, readings.delay),
      readHeapPercent: () => readings.heap,
    });
    readings.delay = 500;
    for (let i = 0; i < 1000; i++) assert.equal(guard.shouldShed(), undefined, 'no sample yet');
    assert.equal(readings.delayReads, 0, 'shouldShed never reads the signals');
    guard.sample();
    assert.equal(guard.shouldShed(), 'event_loop_delay');
    readings.delay = 5;
    readings.heap = 95;
    guard.sample();
    assert.equal(guard.shouldShed(), 'heap');
    readings.heap = 50;
    guard.sample();
    assert.equal(guard.shouldShed(), undefined);
    assert.equal(guard.eventLoopDelayMs, 5);
    assert.equal(guard.heapPercent, 50);
  });

  test('max in flight is checked before the sampled signals', () => {
    const guard = new OverloadGuard({ maxInFlight: 1, maxHeapPercent: 1, readHeapPercent: () => 99 });
    guard.sample();
    guard.requestStarted();
    assert.equal(guard.shouldShed(), 'max_in_flight');
  });

  test('with nothing configured it never sheds and start() runs no timer', () => {
    const guard = new OverloadGuard();
    guard.start();
    for (let i = 0; i < 100_000; i++) guard.requestStarted();
    assert.equal(guard.shouldShed(), undefined);
    guard.stop();
  });

  test('a real blocked event loop is seen by the timer within a few samples', async () => {
    const guard = new OverloadGuard({ maxEventLoopDelayMs: 50, sampleIntervalMs: 20 });
    guard.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      const until = Date.now() + 150;
      while (Date.now() < until) {
        // block the loop for 150 ms
      }
      const deadline = Date.now() + 2000;
      while (guard.shouldShed() !== 'event_loop_delay') {
        assert.ok(Date.now() < deadline, `never shed; last delay ${guard.eventLoopDelayMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // The stall is over: the next samples clear it.
      const clearBy = Date.now() + 2000;
      while (guard.shouldShed() !== undefined) {
        assert.ok(Date.now() < clearBy, 'shedding never stopped');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      guard.stop();
    }
  });
});

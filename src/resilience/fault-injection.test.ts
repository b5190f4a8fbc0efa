import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FaultInjector, compileFaultInjection } from './fault-injection.ts';

function seeded(seed = 7): () => number {
  return () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
}

describe('FaultInjector', () => {
  test('delays about `percent` % of requests by the configured time', () => {
    const faults = new FaultInjector({ delay: { ms: 250, percent: 10 }, random: seeded() });
    const delays = Array.from({ length: 10_000 }, () => faults.delayMs());
    const delayed = delays.filter((d) => d > 0);
    assert.ok(delayed.every((d) => d === 250));
    assert.ok(Math.abs(delayed.length - 1000) < 100, `${delayed.length} delayed of 10 000`);
  });

  test('aborts about `percent` % of requests with the configured status', () => {
    const faults = new FaultInjector({ abort: { status: 503, percent: 25 }, random: seeded(3) });
    const aborted = Array.from({ length: 10_000 }, () => faults.abortStatus()).filter((s) => s === 503).length;
    assert.ok(Math.abs(aborted - 2500) < 150, `${aborted} aborted of 10 000`);
  });

  test('0 % never and 100 % always', () => {
    const never = new FaultInjector({ delay: { ms: 1, percent: 0 }, abort: { status: 500, percent: 0 } });
    const always = new FaultInjector({ delay: { ms: 1, percent: 100 }, abort: { status: 500, percent: 100 } });
    for (let i = 0; i < 1000; i++) {
      assert.equal(never.delayMs(), 0);
      assert.equal(never.abortStatus(), 0);
      assert.equal(always.delayMs(), 1);
      assert.equal(always.abortStatus(), 500);
    }
  });

  test('a route without faults compiles to nothing', () => {
    assert.equal(compileFaultInjection(undefined), undefined);
    assert.equal(compileFaultInjection({}), undefined);
    assert.ok(compileFaultInjection({ abort: { status: 503, percent: 1 } }));
  });

  test('rejects a percentage outside [0, 100]', () => {
    assert.throws(() => new FaultInjector({ abort: { status: 503, percent: 101 } }), RangeError);
  });
});

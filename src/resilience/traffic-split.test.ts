import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { TrafficSplit, compileStickyKey } from './traffic-split.ts';

function shares(split: TrafficSplit<string>, n: number, key?: (i: number) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const side = split.pick(key?.(i));
    counts[side] = (counts[side] ?? 0) + 1;
  }
  return counts;
}

describe('TrafficSplit', () => {
  for (const canary of [5, 50, 100]) {
    test(`unsticky: a ${canary} % canary gets exactly ${canary} % of 10 000 requests`, () => {
      const split = new TrafficSplit([{ value: 'stable', weight: 100 - canary }, { value: 'canary', weight: canary }]);
      assert.equal(shares(split, 10_000).canary, canary * 100);
    });
  }

  test('unsticky: turns are interleaved, not bunched', () => {
    const split = new TrafficSplit([{ value: 'a', weight: 1 }, { value: 'b', weight: 1 }]);
    assert.deepEqual(Array.from({ length: 6 }, () => split.pick()), ['a', 'b', 'a', 'b', 'a', 'b']);
  });

  test('sticky: one key always gets the same side', () => {
    const split = new TrafficSplit([{ value: 'stable', weight: 50 }, { value: 'canary', weight: 50 }], { salt: 'r' });
    for (let u = 0; u < 100; u++) {
      const first = split.pick(`user-${u}`);
      for (let i = 0; i < 5; i++) assert.equal(split.pick(`user-${u}`), first);
    }
  });

  test('sticky: over 10 000 users the share is within ±2 points of the weight', () => {
    for (const canary of [5, 20, 50]) {
      const split = new TrafficSplit([{ value: 'stable', weight: 100 - canary }, { value: 'canary', weight: canary }], { salt: 'users-api' });
      const got = (shares(split, 10_000, (i) => `user-${i}`).canary ?? 0) / 100;
      assert.ok(Math.abs(got - canary) <= 2, `canary ${canary} %: got ${got} %`);
    }
  });

  test('sticky: raising the canary weight only moves users to the canary', () => {
    const at = (w: number) => new TrafficSplit([{ value: 'stable', weight: 100 - w }, { value: 'canary', weight: w }], { salt: 'r' });
    const [five, fifty] = [at(5), at(50)];
    for (let u = 0; u < 5000; u++) {
      if (five.pick(`u${u}`) === 'canary') assert.equal(fifty.pick(`u${u}`), 'canary', `user u${u} went back to stable`);
    }
  });

  test('a zero weight takes no traffic, sticky or not', () => {
    const split = new TrafficSplit([{ value: 'stable', weight: 1 }, { value: 'canary', weight: 0 }]);
    assert.equal(shares(split, 1000).canary, undefined);
    assert.equal(shares(split, 1000, (i) => String(i)).canary, undefined);
  });

  test('rejects an empty split, negative weights and all-zero weights', () => {
    assert.throws(() => new TrafficSplit([]), RangeError);
    assert.throws(() => new TrafficSplit([{ value: 'a', weight: -1 }]), RangeError);
    assert.throws(() => new TrafficSplit([{ value: 'a', weight: 0 }]), RangeError);
  });
});

describe('compileStickyKey', () => {
  const req = { headers: { 'x-user': 'u1', cookie: 'a=1; uid=u2' } } as unknown as IncomingMessage;
  test('client-ip', () => assert.equal(compileStickyKey('client-ip')(req, '192.0.2.1'), '192.0.2.1'));
  test('a header', () => assert.equal(compileStickyKey({ header: 'X-User' })(req, ''), 'u1'));
  test('a cookie', () => assert.equal(compileStickyKey({ cookie: 'uid' })(req, ''), 'u2'));
  test('absent: undefined, so the request splits by weight', () => assert.equal(compileStickyKey({ cookie: 'nope' })(req, ''), undefined));
});

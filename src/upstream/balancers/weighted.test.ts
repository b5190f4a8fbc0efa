import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeTargets, tally } from './test-fixtures.ts';
import { weighted } from './weighted.ts';

const names = (picks: readonly ({ name: string } | undefined)[]) => picks.map((t) => t?.name);

test('smooth weighted round-robin with weights 5,1,1 gives nginx\'s sequence a a b a c a a', () => {
  const lb = weighted(makeTargets(['a', 'b', 'c'], [5, 1, 1]));
  const sequence = ['a', 'a', 'b', 'a', 'c', 'a', 'a'];
  assert.deepEqual(names(Array.from({ length: 14 }, () => lb.pick())), [...sequence, ...sequence]);
});

test('smooth weighted round-robin gives exact proportions over whole cycles', () => {
  const lb = weighted(makeTargets(['a', 'b', 'c'], [5, 1, 1]));
  const counts = tally(Array.from({ length: 7000 }, () => lb.pick()));
  assert.deepEqual(Object.fromEntries(counts), { a: 5000, b: 1000, c: 1000 });
});

test('smooth weighted round-robin never sends a heavy target more than its share in a row', () => {
  // 3:2 interleaves as a b a b a, not a a a b b.
  const lb = weighted(makeTargets(['a', 'b'], [3, 2]));
  assert.deepEqual(names(Array.from({ length: 5 }, () => lb.pick())), ['a', 'b', 'a', 'b', 'a']);
});

test('equal weights behave like round-robin', () => {
  const lb = weighted(makeTargets(['a', 'b', 'c']));
  assert.deepEqual(names(Array.from({ length: 6 }, () => lb.pick())), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('an unhealthy target\'s share goes to the others in proportion to their weights', () => {
  const targets = makeTargets(['a', 'b', 'c'], [5, 1, 2]);
  const lb = weighted(targets);
  targets[2]!.healthy = false;
  const counts = tally(Array.from({ length: 6000 }, () => lb.pick()));
  assert.deepEqual(Object.fromEntries(counts), { a: 5000, b: 1000 });
});

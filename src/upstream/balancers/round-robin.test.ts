import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundRobin } from './round-robin.ts';
import { makeTargets } from './test-fixtures.ts';

const names = (picks: readonly ({ name: string } | undefined)[]) => picks.map((t) => t?.name);

test('round-robin visits the targets in list order, over and over', () => {
  const lb = roundRobin(makeTargets(['a', 'b', 'c']));
  assert.deepEqual(names(Array.from({ length: 7 }, () => lb.pick())), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
});

test('round-robin skips an unhealthy target and keeps the order of the others', () => {
  const targets = makeTargets(['a', 'b', 'c', 'd']);
  const lb = roundRobin(targets);
  assert.deepEqual(names([lb.pick(), lb.pick()]), ['a', 'b']);
  targets[2]!.healthy = false;
  assert.deepEqual(names(Array.from({ length: 4 }, () => lb.pick())), ['d', 'a', 'b', 'd']);
  targets[2]!.healthy = true;
  assert.deepEqual(names(Array.from({ length: 4 }, () => lb.pick())), ['a', 'b', 'c', 'd']);
});

test('round-robin ignores weights', () => {
  const lb = roundRobin(makeTargets(['a', 'b'], [10, 1]));
  assert.deepEqual(names(Array.from({ length: 4 }, () => lb.pick())), ['a', 'b', 'a', 'b']);
});

test('round-robin retry skips the failed target and continues after the one it picks', () => {
  const targets = makeTargets(['a', 'b', 'c']);
  const lb = roundRobin(targets);
  assert.equal(lb.pick()!.name, 'a');
  assert.equal(lb.pick({ exclude: targets[1]! })!.name, 'c');
  assert.equal(lb.pick()!.name, 'a');
});

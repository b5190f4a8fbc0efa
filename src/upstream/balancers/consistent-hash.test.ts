import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consistentHash } from './consistent-hash.ts';
import { makeTargets, randomKeys, type TestTarget } from './test-fixtures.ts';
import type { LoadBalancer } from './types.ts';

const KEYS = randomKeys(100_000, 3);

/** The target name each key maps to. */
function assignment(lb: LoadBalancer<TestTarget>, keys: readonly string[] = KEYS): string[] {
  return keys.map((hashKey) => lb.pick({ hashKey })!.name);
}

function shares(names: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return new Map([...counts].map(([name, n]) => [name, n / names.length]));
}

function assertShare(actual: number | undefined, expected: number, label: string) {
  assert.ok(actual !== undefined && Math.abs(actual - expected) / expected <= 0.05, `${label}: share ${actual}, expected ${expected} ± 5%`);
}

test('consistent-hash sends the same key to the same target, whatever the order targets are listed in', () => {
  const lb = consistentHash(makeTargets(['a', 'b', 'c']));
  const first = assignment(lb, KEYS.slice(0, 2000));
  assert.deepEqual(assignment(lb, KEYS.slice(0, 2000)), first, 'same balancer, second pass');
  assert.deepEqual(assignment(consistentHash(makeTargets(['a', 'b', 'c'])), KEYS.slice(0, 2000)), first, 'a rebuilt balancer');
  const reversed = makeTargets(['a', 'b', 'c']).reverse();
  assert.deepEqual(assignment(consistentHash(reversed), KEYS.slice(0, 2000)), first, 'targets listed in reverse');
});

test('consistent-hash spreads keys evenly over equal targets (±5%)', () => {
  const share = shares(assignment(consistentHash(makeTargets(['a', 'b', 'c']))));
  for (const name of ['a', 'b', 'c']) assertShare(share.get(name), 1 / 3, name);
});

test('consistent-hash gives keys in proportion to weight (1:2 within ±5%)', () => {
  const share = shares(assignment(consistentHash(makeTargets(['light', 'heavy'], [1, 2]))));
  assertShare(share.get('light'), 1 / 3, 'light');
  assertShare(share.get('heavy'), 2 / 3, 'heavy');
  const mixed = shares(assignment(consistentHash(makeTargets(['a', 'b', 'c'], [1, 3, 6]))));
  assertShare(mixed.get('a'), 0.1, 'a');
  assertShare(mixed.get('b'), 0.3, 'b');
  assertShare(mixed.get('c'), 0.6, 'c');
});

test('adding a fourth target moves about a quarter of the keys, nearly all of them to the new target', () => {
  const before = assignment(consistentHash(makeTargets(['a', 'b', 'c'])));
  const after = assignment(consistentHash(makeTargets(['a', 'b', 'c', 'd'])));
  let moved = 0;
  let movedToNew = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    if (after[i] === 'd') movedToNew++;
  }
  assert.ok(moved / KEYS.length <= 0.3, `moved ${moved / KEYS.length} of the keys`);
  assert.ok(movedToNew / moved >= 0.95, `only ${movedToNew / moved} of the moved keys went to the new target`);
});

test('removing a target remaps its keys and barely touches the others', () => {
  const before = assignment(consistentHash(makeTargets(['a', 'b', 'c', 'd'])));
  const after = assignment(consistentHash(makeTargets(['a', 'b', 'c', 'd']).filter((t) => t.name !== 'b')));
  let noise = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === 'b') assert.notEqual(after[i], 'b');
    else if (before[i] !== after[i]) noise++;
  }
  assert.ok(noise / KEYS.length <= 0.02, `${noise / KEYS.length} of the other targets' keys moved`);
});

test('an unhealthy target\'s keys go to the others, evenly, and every other key stays put', () => {
  const targets = makeTargets(['a', 'b', 'c']);
  const lb = consistentHash(targets);
  const before = assignment(lb);
  targets[1]!.healthy = false;
  const during = assignment(lb);
  const orphans: string[] = [];
  for (let i = 0; i < KEYS.length; i++) {
    if (before[i] === 'b') orphans.push(during[i]!);
    else assert.equal(during[i], before[i], `key ${KEYS[i]} moved off healthy ${before[i]}`);
  }
  const orphanShare = shares(orphans);
  assertShare(orphanShare.get('a'), 0.5, 'orphans to a');
  assertShare(orphanShare.get('c'), 0.5, 'orphans to c');
  targets[1]!.healthy = true;
  assert.deepEqual(assignment(lb), before, 'keys return once the target recovers');
});

test('consistent-hash retries a key on another target, the same one every time', () => {
  const targets = makeTargets(['a', 'b', 'c']);
  const lb = consistentHash(targets);
  for (const hashKey of KEYS.slice(0, 500)) {
    const first = lb.pick({ hashKey })!;
    const retry = lb.pick({ hashKey, exclude: first })!;
    assert.notEqual(retry, first);
    assert.equal(lb.pick({ hashKey, exclude: first }), retry);
  }
});

test('consistent-hash without a key takes turns like round-robin', () => {
  const lb = consistentHash(makeTargets(['a', 'b', 'c']));
  assert.deepEqual(Array.from({ length: 6 }, () => lb.pick()!.name), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('consistent-hash accepts any string as a key', () => {
  const lb = consistentHash(makeTargets(['a', 'b']));
  for (const hashKey of ['', ' ', 'é', '🙂', 'x'.repeat(10_000)]) assert.equal(lb.pick({ hashKey }), lb.pick({ hashKey }));
});

test('consistent-hash honours a smaller prime table and rejects a bad one', () => {
  const share = shares(assignment(consistentHash(makeTargets(['a', 'b', 'c']), { tableSize: 1009 })));
  for (const name of ['a', 'b', 'c']) assertShare(share.get(name), 1 / 3, name);
  assert.throws(() => consistentHash(makeTargets(['a']), { tableSize: 1000 }), RangeError);
  assert.throws(() => consistentHash(makeTargets(['a', 'b', 'c']), { tableSize: 2 }), RangeError);
  assert.throws(() => consistentHash(makeTargets(['a'], [0])), RangeError);
});

test('a target too light to own a slot still serves keys when it is the only healthy one', () => {
  const targets = makeTargets(['light', 'heavy'], [1, 1000]);
  const lb = consistentHash(targets, { tableSize: 7 });
  targets[1]!.healthy = false;
  for (const hashKey of KEYS.slice(0, 50)) assert.equal(lb.pick({ hashKey }), targets[0]);
});

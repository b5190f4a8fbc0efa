import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leastRequest } from './least-request.ts';
import { makeTargets, seededRandom, type TestTarget } from './test-fixtures.ts';

/** A random source that returns `values` in order and counts how many were drawn. */
function scripted(values: readonly number[]) {
  const source = { draws: 0, random: () => values[source.draws++ % values.length]! };
  return source;
}

test('least-request sends to the less loaded of the two targets drawn', () => {
  const targets = makeTargets(['a', 'b', 'c']);
  targets[0]!.inFlight = 5;
  targets[1]!.inFlight = 0;
  targets[2]!.inFlight = 1;
  // Draws 0.0 -> a and 0.7 -> c: c is less loaded. b, the least loaded of all, was not drawn.
  const source = scripted([0.0, 0.7]);
  const lb = leastRequest(targets, { random: source.random });
  assert.equal(lb.pick()!.name, 'c');
  assert.equal(source.draws, 2, 'two draws per pick when both are usable');
  const reversed = leastRequest(targets, { random: scripted([0.7, 0.0]).random });
  assert.equal(reversed.pick()!.name, 'c');
});

test('least-request breaks a tie in load by weight, then keeps the first drawn', () => {
  const targets = makeTargets(['a', 'b', 'c'], [1, 3, 1]);
  assert.equal(leastRequest(targets, { random: scripted([0.0, 0.5]).random }).pick()!.name, 'b');
  assert.equal(leastRequest(targets, { random: scripted([0.5, 0.0]).random }).pick()!.name, 'b');
  assert.equal(leastRequest(targets, { random: scripted([0.9, 0.0]).random }).pick()!.name, 'c');
});

test('least-request draws two distinct targets', () => {
  const targets = makeTargets(['a', 'b']);
  targets[0]!.inFlight = 3;
  // 0.9 -> b, then 0.9 again -> b (rejected: same target), then 0.1 -> a. b is less loaded.
  const source = scripted([0.9, 0.9, 0.1]);
  assert.equal(leastRequest(targets, { random: source.random }).pick()!.name, 'b');
  assert.equal(source.draws, 3);
});

test('least-request redraws past unhealthy and excluded targets', () => {
  const targets = makeTargets(['a', 'b', 'c', 'd']);
  targets[1]!.healthy = false;
  targets[2]!.inFlight = 2;
  // 0.3 -> b (unhealthy), 0.0 -> a (excluded), 0.6 -> c, 0.8 -> d: d is less loaded.
  const source = scripted([0.3, 0.0, 0.6, 0.8]);
  assert.equal(leastRequest(targets, { random: source.random }).pick({ exclude: targets[0]! })!.name, 'd');
});

test('least-request with one target picks it without drawing', () => {
  const [only] = makeTargets(['only']);
  const lb = leastRequest([only!], {
    random: () => {
      throw new Error('must not draw');
    },
  });
  assert.equal(lb.pick(), only);
});

test('least-request tolerates a random source that returns 1', () => {
  const targets = makeTargets(['a', 'b']);
  assert.ok(leastRequest(targets, { random: scripted([1, 0]).random }).pick());
});

/**
 * Discrete-time simulation: one request arrives per tick and takes `serviceTicks(target)` ticks; the caller keeps
 * inFlight as the proxy will. Returns the requests each target received and the in-flight spread (busiest minus
 * idlest target) at its widest and on average.
 */
function simulate(
  targets: TestTarget[],
  pick: () => TestTarget,
  serviceTicks: (t: TestTarget, random: () => number) => number,
  ticks: number,
) {
  const random = seededRandom(42);
  const finishing = new Map<number, TestTarget[]>();
  const received = new Map<string, number>(targets.map((t) => [t.name, 0]));
  let widestSpread = 0;
  let spreadSum = 0;
  const warmUp = 1000;
  for (let now = 0; now < ticks; now++) {
    for (const done of finishing.get(now) ?? []) done.inFlight--;
    finishing.delete(now);
    const target = pick();
    target.inFlight++;
    received.set(target.name, received.get(target.name)! + 1);
    const end = now + serviceTicks(target, random);
    finishing.set(end, [...(finishing.get(end) ?? []), target]);
    if (now >= warmUp) {
      const loads = targets.map((t) => t.inFlight);
      const spread = Math.max(...loads) - Math.min(...loads);
      widestSpread = Math.max(widestSpread, spread);
      spreadSum += spread;
    }
  }
  return { received, widestSpread, meanSpread: spreadSum / (ticks - warmUp) };
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];

test('least-request spreads load evenly when in-flight counts are kept', () => {
  const ticks = 50_000;
  const service = (_: TestTarget, random: () => number) => 1 + Math.floor(random() * 60); // ~3 in flight per target
  const targets = makeTargets(NAMES);
  const lb = leastRequest(targets, { random: seededRandom(1) });
  const twoChoices = simulate(targets, () => lb.pick()!, service, ticks);
  const mean = ticks / targets.length;
  for (const [name, count] of twoChoices.received) {
    assert.ok(Math.abs(count - mean) / mean <= 0.05, `${name} received ${count}, expected ${mean} ± 5%`);
  }
  // Baseline: one random choice under the same arrivals. Two choices must keep the targets markedly closer.
  const blind = makeTargets(NAMES);
  const random = seededRandom(1);
  const oneChoice = simulate(blind, () => blind[Math.floor(random() * blind.length)]!, service, ticks);
  assert.ok(twoChoices.widestSpread <= 8, `in-flight spread reached ${twoChoices.widestSpread}`);
  assert.ok(
    twoChoices.meanSpread < oneChoice.meanSpread * 0.7,
    `mean in-flight spread ${twoChoices.meanSpread.toFixed(2)} vs ${oneChoice.meanSpread.toFixed(2)} for random choice`,
  );
});

test('least-request sends less to a slow target', () => {
  const targets = makeTargets(['slow', 'b', 'c', 'd']);
  const lb = leastRequest(targets, { random: seededRandom(1) });
  const ticks = 40_000;
  const service = (t: TestTarget, random: () => number) => (t.name === 'slow' ? 4 : 1) * (1 + Math.floor(random() * 10));
  const { received } = simulate(targets, () => lb.pick()!, service, ticks);
  const others = (ticks - received.get('slow')!) / 3;
  assert.ok(received.get('slow')! < others / 2, `slow got ${received.get('slow')}, the others ${others} each`);
});

test('least-request\'s built-in random source spreads idle-time picks evenly', () => {
  const lb = leastRequest(makeTargets(['a', 'b', 'c', 'd']));
  const counts = new Map<string, number>();
  for (let i = 0; i < 40_000; i++) {
    const name = lb.pick()!.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  for (const [name, count] of counts) assert.ok(Math.abs(count - 10_000) <= 1_000, `${name} got ${count} of 40000`);
  assert.equal(counts.size, 4);
});

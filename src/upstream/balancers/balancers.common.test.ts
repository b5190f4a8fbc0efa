// One suite, every policy: the contract of LoadBalancer.pick that the proxy relies on, whatever the algorithm.
// Policies come from the registry, so a new policy is tested here the moment it is registered. Consistent-hash runs
// twice: without a key (its round-robin mode) and with a key per request.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LOAD_BALANCERS } from '../../config/schema.ts';
import { createLoadBalancer, loadBalancers } from './index.ts';
import { makeTargets, randomKeys, tally, type TestTarget } from './test-fixtures.ts';
import type { LoadBalancer, LoadBalancerFactory, PickContext } from './types.ts';

interface Variant {
  readonly name: string;
  readonly factory: LoadBalancerFactory;
  /** The context of the i-th request (hashKey only; cases add exclude). */
  readonly context: (i: number) => PickContext;
}

const KEYS = randomKeys(4096, 7);
const variants: Variant[] = Object.entries(loadBalancers).map(([name, factory]) => ({
  name,
  factory,
  context: () => ({}),
}));
variants.push({ name: 'consistent-hash (keyed)', factory: loadBalancers['consistent-hash'], context: (i) => ({ hashKey: KEYS[i % KEYS.length]! }) });

function pickMany(lb: LoadBalancer<TestTarget>, variant: Variant, count: number, extra: PickContext = {}) {
  const picks: (TestTarget | undefined)[] = [];
  for (let i = 0; i < count; i++) picks.push(lb.pick({ ...variant.context(i), ...extra }));
  return picks;
}

test('the registry has a policy for every loadBalancer name the config accepts', () => {
  assert.deepEqual(Object.keys(loadBalancers).sort(), [...LOAD_BALANCERS].sort());
  const targets = makeTargets(['a', 'b']);
  for (const name of LOAD_BALANCERS) assert.ok(targets.includes(createLoadBalancer(name, targets).pick()!), name);
});

for (const variant of variants) {
  describe(`load balancer: ${variant.name}`, () => {
    test('never picks an unhealthy target, also when health changes between picks', () => {
      const targets = makeTargets(['a', 'b', 'c', 'd', 'e']);
      targets[1]!.healthy = false;
      targets[3]!.healthy = false;
      const lb = variant.factory(targets);
      const picks = pickMany(lb, variant, 1000);
      assert.ok(picks.every((t) => t !== undefined && t.healthy), 'picked an unhealthy target');
      targets[0]!.healthy = false;
      targets[3]!.healthy = true;
      const later = pickMany(lb, variant, 1000);
      assert.ok(later.every((t) => t !== undefined && t.healthy), 'picked an unhealthy target after a flip');
    });

    test('returns undefined when every target is unhealthy, or there are none', () => {
      const targets = makeTargets(['a', 'b', 'c']);
      for (const t of targets) t.healthy = false;
      const lb = variant.factory(targets);
      assert.deepEqual(new Set(pickMany(lb, variant, 50)), new Set([undefined]));
      assert.equal(lb.pick({ ...variant.context(0), exclude: targets[0]! }), undefined);
      assert.equal(variant.factory(makeTargets([])).pick(variant.context(0)), undefined);
    });

    test('avoids the excluded target while another healthy one exists', () => {
      const targets = makeTargets(['a', 'b', 'c', 'd']);
      const lb = variant.factory(targets);
      for (const excluded of targets) {
        const picks = pickMany(lb, variant, 300, { exclude: excluded });
        assert.ok(picks.every((t) => t !== undefined && t !== excluded), `picked excluded ${excluded.name}`);
      }
      targets[1]!.healthy = false;
      targets[2]!.healthy = false;
      const picks = pickMany(lb, variant, 300, { exclude: targets[0]! });
      assert.deepEqual(new Set(picks), new Set([targets[3]]), 'the one healthy, non-excluded target takes it all');
    });

    test('returns the excluded target when it is the only healthy one', () => {
      const alone = makeTargets(['alone'])[0]!;
      const single = variant.factory([alone]);
      assert.equal(single.pick({ ...variant.context(0), exclude: alone }), alone);
      const targets = makeTargets(['a', 'b', 'c']);
      targets[1]!.healthy = false;
      targets[2]!.healthy = false;
      const lb = variant.factory(targets);
      assert.deepEqual(new Set(pickMany(lb, variant, 100, { exclude: targets[0]! })), new Set([targets[0]]));
      targets[0]!.healthy = false;
      assert.equal(lb.pick({ ...variant.context(0), exclude: targets[0]! }), undefined);
    });

    test('sends traffic to every healthy target, and again to one that recovers', () => {
      const targets = makeTargets(['a', 'b', 'c', 'd']);
      const lb = variant.factory(targets);
      assert.deepEqual([...tally(pickMany(lb, variant, 4000)).keys()].sort(), ['a', 'b', 'c', 'd']);
      targets[2]!.healthy = false;
      assert.ok(!tally(pickMany(lb, variant, 1000)).has('c'));
      targets[2]!.healthy = true;
      assert.ok((tally(pickMany(lb, variant, 4000)).get('c') ?? 0) > 0, 'recovered target got no traffic');
    });

    test('works without a context and ignores later changes to the input list', () => {
      const targets = makeTargets(['a', 'b']);
      const lb = variant.factory(targets);
      assert.ok(targets.includes(lb.pick()!));
      const [intruder] = makeTargets(['intruder']);
      targets.push(intruder!);
      assert.ok(!pickMany(lb, variant, 200).includes(intruder), 'picked a target added after construction');
    });
  });
}

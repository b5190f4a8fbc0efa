// The load-balancing policies by config name. A pool looks its policy up here; adding a policy is one file and one
// line below, and balancers.common.test.ts runs the shared suite against every entry.
import type { LoadBalancerName } from '../../config/schema.ts';
import { consistentHash } from './consistent-hash.ts';
import { leastRequest } from './least-request.ts';
import { roundRobin } from './round-robin.ts';
import type { BalancerTarget, LoadBalancer, LoadBalancerFactory } from './types.ts';
import { weighted } from './weighted.ts';

export type { BalancerTarget, LoadBalancer, LoadBalancerFactory, PickContext } from './types.ts';
export type { ConsistentHashOptions } from './consistent-hash.ts';
export type { LeastRequestOptions } from './least-request.ts';
export { consistentHash, leastRequest, roundRobin, weighted };

/**
 * Every policy a config may name in `upstreams[].loadBalancer`, keyed by that name.
 *
 * @example
 * const factory = loadBalancers['least-request'];
 * const lb = factory(targets);
 */
export const loadBalancers: Record<LoadBalancerName, LoadBalancerFactory> = Object.freeze({
  'round-robin': roundRobin,
  weighted,
  'least-request': leastRequest,
  'consistent-hash': consistentHash,
});

/**
 * Builds the named policy over `targets` (call once per snapshot, then `pick` per request).
 *
 * @example
 * const lb = createLoadBalancer(upstream.loadBalancer, targets);
 * const target = lb.pick({ hashKey: clientIp });
 */
export function createLoadBalancer<T extends BalancerTarget>(name: LoadBalancerName, targets: readonly T[]): LoadBalancer<T> {
  return loadBalancers[name](targets);
}

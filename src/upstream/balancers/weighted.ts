// Smooth weighted round-robin, nginx's algorithm (ngx_http_upstream_get_peer in ngx_http_upstream_round_robin.c).
// Each pick adds every candidate's weight to its running `current` weight, takes the largest and subtracts the total
// from the winner. Over sum(weights) picks each target is chosen exactly `weight` times, and the heavy target's turns
// are spread out (5,1,1 gives a a b a c a a) instead of arriving in a burst as with a naive weighted list.
import type { BalancerTarget, LoadBalancer, PickContext } from './types.ts';

class WeightedBalancer<T extends BalancerTarget> implements LoadBalancer<T> {
  readonly #targets: readonly T[];
  /** nginx's `current_weight` per target, same index as #targets. */
  readonly #current: Float64Array;

  constructor(targets: readonly T[]) {
    this.#targets = Array.from(targets);
    this.#current = new Float64Array(targets.length);
  }

  pick(ctx?: PickContext): T | undefined {
    const targets = this.#targets;
    const current = this.#current;
    const exclude = ctx?.exclude;
    let best = -1;
    let total = 0;
    let fallback: T | undefined;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      // Like nginx's down and already-tried peers, skipped targets neither gain nor lose current weight, so the
      // others keep their smooth sequence and the skipped one resumes where it was.
      if (!target.healthy) continue;
      if (target === exclude) {
        fallback = target;
        continue;
      }
      current[i]! += target.weight;
      total += target.weight;
      // Strictly greater: on a tie the earlier target wins, as in nginx.
      if (best < 0 || current[i]! > current[best]!) best = i;
    }
    if (best < 0) return fallback;
    current[best]! -= total;
    return targets[best];
  }
}

/**
 * Smooth weighted round-robin over the healthy targets: each gets `weight / sum(weights)` of the picks, evenly
 * interleaved. A target that is unhealthy or excluded gives its share to the others in proportion to their weights.
 *
 * @example
 * const lb = weighted([{ ...a, weight: 5 }, b, c]);
 * // a a b a c a a, then again
 */
export function weighted<T extends BalancerTarget>(targets: readonly T[]): LoadBalancer<T> {
  return new WeightedBalancer(targets);
}

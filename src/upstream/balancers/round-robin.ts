// Round-robin: each healthy target in turn, in list order.
import type { BalancerTarget, LoadBalancer, PickContext } from './types.ts';

class RoundRobinBalancer<T extends BalancerTarget> implements LoadBalancer<T> {
  readonly #targets: readonly T[];
  /** Index where the next scan starts: one past the last target picked. */
  #next = 0;

  constructor(targets: readonly T[]) {
    this.#targets = Array.from(targets);
  }

  pick(ctx?: PickContext): T | undefined {
    const targets = this.#targets;
    const n = targets.length;
    const exclude = ctx?.exclude;
    let i = this.#next;
    // The excluded target, kept in case it turns out to be the only healthy one.
    let fallback: T | undefined;
    for (let scanned = 0; scanned < n; scanned++) {
      const target = targets[i]!;
      i = i + 1 === n ? 0 : i + 1;
      if (!target.healthy) continue;
      if (target === exclude) {
        fallback = target;
        continue;
      }
      this.#next = i;
      return target;
    }
    return fallback;
  }
}

/**
 * Round-robin over the healthy targets, ignoring weights. Unhealthy and excluded targets are skipped without
 * disturbing the order of the others.
 *
 * @example
 * const lb = roundRobin([a, b, c]);
 * lb.pick(); // a
 * lb.pick(); // b
 * lb.pick({ exclude: c }); // a
 */
export function roundRobin<T extends BalancerTarget>(targets: readonly T[]): LoadBalancer<T> {
  return new RoundRobinBalancer(targets);
}

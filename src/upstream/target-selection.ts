// The upstream-peer phase: which target an attempt goes to. The balancer picks among healthy targets (active
// checks, outlier detection, open target breakers all clear `healthy`; the panic threshold ignores it), then the
// target's own breaker gets the last word — a half-open breaker admits only its few probes, so a refused pick is
// re-made among the other targets.
import type { Upstream } from './upstream.ts';
import type { UpstreamTarget } from './target.ts';

/** Why no target could be selected: every target unhealthy, or every candidate's breaker refusing. */
export type NoTarget = 'no_healthy_upstream' | 'circuit_open';

/**
 * The target for one attempt. `exclude` is the target that just failed (a retry goes elsewhere when it can).
 * When a target is returned and the upstream has per-target breakers, that breaker has admitted the attempt and
 * `upstream.resilience.onAttemptEnd` must report how it ended.
 *
 * @example
 * const target = selectTarget(upstream, hashKey, failed);
 * if (typeof target === 'string') return fail(target);
 */
export function selectTarget(upstream: Upstream, hashKey: string | undefined, exclude: UpstreamTarget | undefined): UpstreamTarget | NoTarget {
  const picked = upstream.pickTarget(exclude !== undefined || hashKey !== undefined ? { exclude, hashKey } : undefined);
  if (picked === undefined) return 'no_healthy_upstream';
  const guard = upstream.resilience;
  if (guard === undefined || guard.admitTarget(picked)) return picked;
  // Rare (a half-open breaker whose probe slots are taken): look at the others in list order from a random start,
  // so the probes a refused target cannot take are spread instead of all landing on its neighbour.
  const targets = upstream.targets;
  const n = targets.length;
  const panicking = upstream.panicking;
  const start = Math.floor(Math.random() * n);
  let fallback: UpstreamTarget | undefined;
  for (let k = 0; k < n; k++) {
    const t = targets[(start + k) % n]!;
    if (t === picked || !(t.healthy || panicking)) continue;
    if (t === exclude) {
      fallback = t;
      continue;
    }
    if (guard.admitTarget(t)) return t;
  }
  if (fallback !== undefined && guard.admitTarget(fallback)) return fallback;
  return 'circuit_open';
}

// The contract every load-balancing policy implements. A policy is built once per snapshot from the pool's targets
// and asked for a target on every request (and again on a retry), so `pick` is on the hot path: no allocation, no I/O.

/** One upstream server as a load balancer sees it. The pool owns these objects and keeps the mutable fields current. */
export interface BalancerTarget {
  /** Stable identity: the target URL. Consistent hashing places targets by it. */
  readonly id: string;
  /** Relative share of traffic, an integer >= 1 (validated config guarantees it). */
  readonly weight: number;
  /** Requests dispatched and not yet finished; the caller does ++ on dispatch and -- on finish. */
  inFlight: number;
  /** Kept current by health checks; unhealthy targets are never picked. */
  healthy: boolean;
}

/** What a request tells the balancer about itself. */
export interface PickContext {
  /** Consistent-hash key (client ip, header or cookie value); undefined makes consistent-hash act like round-robin. */
  hashKey?: string;
  /** A target that just failed (retry): avoided whenever another healthy target exists. */
  exclude?: BalancerTarget;
}

/** A policy bound to one set of targets. */
export interface LoadBalancer<T extends BalancerTarget> {
  /** The target for this request; undefined only when no target is healthy. */
  pick(ctx?: PickContext): T | undefined;
}

/** Builds a policy over a fixed list of targets (the list is copied; the target objects are shared). */
export type LoadBalancerFactory = <T extends BalancerTarget>(targets: readonly T[]) => LoadBalancer<T>;

// The contract of a discovery provider: where an upstream's targets come from when the config does not list them.
// Like Traefik's providers (`Provide(chan<- Message)`), a provider only says what the targets are now; the
// upstream registry turns that into pools, health checks and balancers. Lifecycle as Caddy names it: the
// constructor has no side effects, start() provisions (resolves, connects, watches), stop() cleans up and is safe
// at any point.

/** One target found: its origin ("http://10.0.0.5:8080") and its share of traffic. */
export interface DiscoveredTarget {
  url: string;
  weight: number;
}

export interface DiscoveryListener {
  /** The whole current list, each time it changes (in a stable order). */
  targets(targets: DiscoveredTarget[]): void;
  /** Discovery failed; the last known targets stay in service. `undefined`: it works again. */
  error(err: Error | undefined): void;
}

export interface TargetSource {
  /** What it watches, for logs and the admin API, e.g. "dns SRV _http._tcp.users.internal". */
  readonly description: string;
  start(listener: DiscoveryListener): void;
  stop(): void;
}

/** Sorted by URL, so equal sets compare equal and balancers see the same order on every instance. */
export function sortTargets(targets: DiscoveredTarget[]): DiscoveredTarget[] {
  return targets.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
}

export function sameTargets(a: readonly DiscoveredTarget[] | undefined, b: readonly DiscoveredTarget[]): boolean {
  return a !== undefined && a.length === b.length && a.every((t, i) => t.url === b[i]!.url && t.weight === b[i]!.weight);
}

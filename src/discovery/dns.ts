// Targets from DNS: A or AAAA records (one target per address, on the configured port) or SRV records (the best
// priority's records, each with its own port and weight, their hosts resolved to addresses). Asked again when the shortest TTL of the answer runs
// out, held within [minInterval, maxInterval] so that a TTL of 0 does not become a query storm and a day-long TTL
// does not hide a change for a day. A failed resolution (timeout, SERVFAIL, NXDOMAIN, an empty answer) keeps the
// last known targets and is retried after minInterval.
import { Resolver } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import type { DnsDiscoveryConfig } from '../config/discovery-schema.ts';
import { sameTargets, sortTargets, type DiscoveredTarget, type DiscoveryListener, type TargetSource } from './types.ts';

/** How long one resolution may take before it counts as failed. */
const QUERY_TIMEOUT_MS = 2000;
/** The TTL assumed for an SRV answer, whose own TTL node:dns does not report. */
const SRV_TTL_SECONDS = 30;

export class DnsTargetSource implements TargetSource {
  readonly description: string;
  readonly #config: DnsDiscoveryConfig;
  readonly #resolver: Resolver;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #known: DiscoveredTarget[] | undefined;
  #failing = false;

  constructor(config: DnsDiscoveryConfig) {
    this.#config = config;
    this.description = `dns ${config.type} ${config.name}`;
    this.#resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 1 });
    if (config.servers) this.#resolver.setServers(config.servers);
  }

  start(listener: DiscoveryListener): void {
    void this.#resolve(listener);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#resolver.cancel();
  }

  async #resolve(listener: DiscoveryListener): Promise<void> {
    const { minInterval, maxInterval } = this.#config;
    let next = minInterval;
    try {
      const { targets, ttlSeconds } = await this.#query();
      if (this.#stopped) return;
      if (targets.length === 0) throw new Error(`${this.#config.name}: no ${this.#config.type} records`);
      next = Math.min(maxInterval, Math.max(minInterval, ttlSeconds * 1000));
      if (this.#failing) listener.error(undefined);
      this.#failing = false;
      if (!sameTargets(this.#known, targets)) {
        this.#known = targets;
        listener.targets(targets);
      }
    } catch (err) {
      if (this.#stopped) return;
      this.#failing = true;
      listener.error(new Error(`DNS ${this.#config.type} ${this.#config.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err }));
    }
    this.#timer = setTimeout(() => void this.#resolve(listener), next);
    this.#timer.unref();
  }

  async #query(): Promise<{ targets: DiscoveredTarget[]; ttlSeconds: number }> {
    const { name, type, scheme } = this.#config;
    if (type === 'SRV') {
      const records = await this.#resolver.resolveSrv(name);
      const best = Math.min(...records.map((r) => r.priority));
      // Each record's host is resolved through the same servers (a service registry's DNS, such as Consul's, is
      // often the only one that knows those names). node:dns gives no TTL for SRV records themselves: the
      // addresses' TTLs pace the queries, up to SRV_TTL_SECONDS.
      const found = await Promise.all(
        records
          .filter((r) => r.priority === best)
          .map(async (r) => {
            const host = r.name.replace(/\.$/, '');
            const addresses = isIP(host) !== 0 ? [{ address: host, ttl: Infinity }] : await this.#addresses(host);
            return addresses.map((a) => ({ url: origin(scheme, a.address, r.port), weight: Math.max(1, r.weight), ttl: a.ttl }));
          }),
      );
      const all = found.flat();
      return { targets: sortTargets(dedupe(all)), ttlSeconds: Math.min(SRV_TTL_SECONDS, ...all.map((t) => t.ttl)) };
    }
    const records = type === 'A' ? await this.#resolver.resolve4(name, { ttl: true }) : await this.#resolver.resolve6(name, { ttl: true });
    const targets = records.map((r) => ({ url: origin(scheme, r.address, this.#config.port!), weight: 1 }));
    return { targets: sortTargets(dedupe(targets)), ttlSeconds: Math.min(...records.map((r) => r.ttl)) };
  }

  /** IPv4 addresses of a host, else its IPv6 ones. */
  async #addresses(host: string): Promise<Array<{ address: string; ttl: number }>> {
    try {
      return await this.#resolver.resolve4(host, { ttl: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENODATA') throw err;
      return this.#resolver.resolve6(host, { ttl: true });
    }
  }
}

function origin(scheme: string, host: string, port: number): string {
  return `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** The same origin twice (two SRV records for one host and port) is one target with the weights added. */
function dedupe(targets: DiscoveredTarget[]): DiscoveredTarget[] {
  const byUrl = new Map<string, DiscoveredTarget>();
  for (const { url, weight } of targets) {
    const seen = byUrl.get(url);
    if (seen) seen.weight = Math.min(10_000, seen.weight + weight);
    else byUrl.set(url, { url, weight: Math.min(10_000, weight) });
  }
  return [...byUrl.values()];
}

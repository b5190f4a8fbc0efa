// Discovery providers by config key: `upstreams[].discovery` is { dns: … }, { etcd: … } or { kubernetes: … };
// adding a provider is a file beside these and a line here.
import type { DiscoveryConfig } from '../config/discovery-schema.ts';
import { DnsTargetSource } from './dns.ts';
import { EtcdTargetSource } from './etcd-registry.ts';
import { KubernetesTargetSource } from './kubernetes.ts';
import type { TargetSource } from './types.ts';

export type { DiscoveredTarget, DiscoveryListener, TargetSource } from './types.ts';

/**
 * The provider an upstream's `discovery` names, not started yet.
 *
 * @example
 * const source = createTargetSource(upstream.discovery);
 * source.start({ targets: (list) => …, error: (err) => … });
 */
export function createTargetSource(config: DiscoveryConfig): TargetSource {
  if ('dns' in config) return new DnsTargetSource(config.dns);
  if ('etcd' in config) return new EtcdTargetSource(config.etcd);
  return new KubernetesTargetSource(config.kubernetes);
}

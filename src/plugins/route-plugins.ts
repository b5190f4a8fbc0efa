// A route's plugin chains, composed once per snapshot: one chain when the route has one upstream, one per upstream
// of a traffic split (the upstream's own plugins differ). A route whose every chain would be empty has none at all
// (undefined), so the request path skips plugins with one field check.
import type { PluginChain } from './chain.ts';
import type { ProvisionedPlugins } from './registry.ts';

export class RoutePlugins {
  readonly #only: PluginChain | undefined;
  readonly #byUpstream: ReadonlyMap<string, PluginChain> | undefined;

  private constructor(only: PluginChain | undefined, byUpstream: ReadonlyMap<string, PluginChain> | undefined) {
    this.#only = only;
    this.#byUpstream = byUpstream;
  }

  static compile(provisioned: ProvisionedPlugins | undefined, route: string, upstreams: readonly string[]): RoutePlugins | undefined {
    if (provisioned === undefined) return undefined;
    if (upstreams.length === 1) {
      const chain = provisioned.chainFor(route, upstreams[0]!);
      return chain === undefined ? undefined : new RoutePlugins(chain, undefined);
    }
    const byUpstream = new Map<string, PluginChain>();
    for (const upstream of new Set(upstreams)) {
      const chain = provisioned.chainFor(route, upstream);
      if (chain !== undefined) byUpstream.set(upstream, chain);
    }
    return byUpstream.size === 0 ? undefined : new RoutePlugins(undefined, byUpstream);
  }

  /** The chain for a request going to this upstream; undefined when it has no plugins. */
  chainFor(upstream: { readonly name: string }): PluginChain | undefined {
    return this.#only ?? this.#byUpstream!.get(upstream.name);
  }
}

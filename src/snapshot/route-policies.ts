// A route's traffic policies, compiled once per snapshot: the weighted split across upstreams (and its sticky
// key), fault injection and mirroring. Each is undefined when the route does not configure it, so the request path
// skips it with one field check. (The rate limit is a plugin: plugins/builtin/rate-limit.)
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RouteConfig, SluiceConfig } from '../config/schema.ts';
import { compileFaultInjection, type FaultInjector } from '../resilience/fault-injection.ts';
import { faultInjectionOptions } from '../resilience/from-config.ts';
import { Mirror } from '../resilience/mirror.ts';
import { compileStickyKey, TrafficSplit, type StickyKeyOf } from '../resilience/traffic-split.ts';
import type { Upstream } from '../upstream/upstream.ts';
import type { PolicyRegistry } from './policy-registry.ts';

export interface RoutePolicies {
  /** The upstream for routes with `upstream`; for a split, the first one with a weight (for defaults only). */
  readonly upstream: Upstream;
  /** `upstreams`: which upstream a request goes to, by weight or by its sticky key. */
  readonly split: TrafficSplit<Upstream> | undefined;
  readonly stickyKeyOf: StickyKeyOf | undefined;
  readonly faults: FaultInjector | undefined;
  readonly mirror: Mirror | undefined;
}

export function compileRoutePolicies(
  route: RouteConfig,
  config: SluiceConfig,
  upstreams: ReadonlyMap<string, Upstream>,
  policies: PolicyRegistry,
): RoutePolicies {
  const named = (name: string, field: string) => {
    // Validation (config/cross-check.ts) guarantees the reference; this guards against a bypassed validator.
    const upstream = upstreams.get(name);
    if (!upstream) throw new Error(`route "${route.name}": unknown upstream "${name}" in ${field}`);
    return upstream;
  };
  let split: TrafficSplit<Upstream> | undefined;
  let upstream: Upstream;
  if (route.upstreams) {
    const backends = route.upstreams.map((u) => ({ value: named(u.name, 'upstreams'), weight: u.weight }));
    split = new TrafficSplit(backends, { salt: route.name });
    upstream = backends.find((b) => b.weight > 0)!.value;
  } else {
    upstream = named(route.upstream!, 'upstream');
  }

  return {
    upstream,
    split,
    stickyKeyOf: split && route.stickyOn ? compileStickyKey(route.stickyOn) : undefined,
    faults: route.faultInjection && compileFaultInjection(faultInjectionOptions(route.faultInjection)),
    mirror: route.mirror && compileMirror(route, named(route.mirror.upstream, 'mirror.upstream'), policies),
  };
}

function compileMirror(route: RouteConfig, shadow: Upstream, policies: PolicyRegistry): Mirror {
  const mirror = route.mirror!;
  return new Mirror({
    dispatcher: shadowDispatcher(shadow),
    percent: mirror.percent,
    maxConcurrent: mirror.maxConcurrent,
    timeoutMs: mirror.timeout,
    name: `mirror:${shadow.name}`,
    onOutage: policies.onOutage,
  });
}

/** Sends each copy to a target of the shadow upstream, chosen by its balancer among its healthy targets. */
function shadowDispatcher(shadow: Upstream): Pick<Dispatcher, 'dispatch'> {
  return {
    dispatch(options, handler) {
      const target = shadow.pickTarget();
      // Mirror.mirror turns a throw into a failed copy.
      if (!target) throw new Error(`the shadow upstream "${shadow.name}" has no healthy target`);
      return target.pool.dispatch(options, handler);
    },
  };
}

/**
 * The upstream this request goes to: the route's own, or the split's choice (by the sticky key's hash when the
 * request carries it, else by weight).
 */
export function upstreamFor(route: RoutePolicies, req: IncomingMessage, clientIp: string): Upstream {
  const split = route.split;
  return split === undefined ? route.upstream : split.pick(route.stickyKeyOf?.(req, clientIp));
}

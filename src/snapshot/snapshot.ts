// An immutable, compiled view of one config version. A request reads only the snapshot it started with;
// a reload builds a new one beside it and swaps one reference (proxy/gateway.ts).
import type { BlockList } from 'node:net';
import type { ListenerConfig, RouteConfig, SluiceConfig } from '../config/schema.ts';
import type { Observability } from '../observability/index.ts';
import type { ProvisionedPlugins } from '../plugins/registry.ts';
import { RoutePlugins } from '../plugins/route-plugins.ts';
import type { OverloadGuard } from '../resilience/overload.ts';
import { compileRouteTable, type RouteTable } from '../routing/route-table.ts';
import type { UpstreamRegistry } from '../upstream/registry.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { compileAddressList } from './address-list.ts';
import { compileHeaderOps, type HeaderOps } from './header-ops.ts';
import { compilePathRewrite, type PathRewrite } from './path-rewrite.ts';
import { PolicyRegistry } from './policy-registry.ts';
import { compileRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { compileRoutePolicies, type RoutePolicies } from './route-policies.ts';

export interface CompiledRoute extends RoutePolicies {
  readonly name: string;
  readonly config: RouteConfig;
  readonly rewritePath: PathRewrite | undefined;
  readonly requestHeaders: HeaderOps | undefined;
  readonly responseHeaders: HeaderOps | undefined;
  /** undefined: keep the client's Host; "": use the target's authority; otherwise a literal host. */
  readonly hostOverride: string | undefined;
  readonly timeout: number | undefined;
  readonly responseTimeout: number;
  readonly idleTimeout: number;
  readonly maxBodySize: number | undefined;
  readonly retry: RetryPolicy | undefined;
  /** The plugin chains (global, route, upstream plugins); undefined when no plugin applies to this route. */
  readonly plugins: RoutePlugins | undefined;
}

export class Snapshot {
  readonly version: number;
  readonly config: SluiceConfig;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly routes: readonly CompiledRoute[];
  /** Route table per listener name: each listener only sees the routes that apply to it. */
  readonly routeTables: ReadonlyMap<string, RouteTable<CompiledRoute>>;
  /** undefined when no proxy is trusted, so the common case skips the lookup entirely. */
  readonly trustedProxies: BlockList | undefined;
  readonly requestIdHeader: string;
  /** The process's overload guard; undefined when server.overload limits nothing. */
  readonly overload: OverloadGuard | undefined;
  /** The plugin instances this snapshot uses, released when it is disposed; undefined when it uses none. */
  readonly plugins: ProvisionedPlugins | undefined;
  /** The process's metrics, tracing and access log (long-lived; reconfigured when this snapshot goes live). */
  readonly observability: Observability | undefined;
  #active = 0;
  #drained: Promise<void> | undefined;
  #resolveDrained: (() => void) | undefined;

  constructor(
    version: number,
    config: SluiceConfig,
    registry: UpstreamRegistry,
    policies = new PolicyRegistry(),
    observability?: Observability,
    plugins?: ProvisionedPlugins,
  ) {
    this.version = version;
    this.observability = observability;
    this.config = config;
    this.plugins = plugins;
    const upstreams = new Map<string, Upstream>();
    try {
      for (const u of config.upstreams) upstreams.set(u.name, registry.acquire(u));
      this.routes = config.routes.map((r) => compileRoute(r, config, upstreams, policies, plugins));
      this.routeTables = new Map(config.listeners.map((l) => [l.name, routeTableFor(l, this.routes)]));
      this.trustedProxies = compileTrustedProxies(config.server.trustedProxies);
    } catch (err) {
      // A snapshot that never goes live must not keep the targets it acquired (their pools would never close).
      for (const u of upstreams.values()) void registry.release(u).catch(() => {});
      throw err;
    }
    this.upstreams = upstreams;
    this.overload = policies.overloadGuard(config.server.overload);
    this.requestIdHeader = config.server.requestIdHeader;
  }

  /** A request holds the snapshot while it runs; the old snapshot is disposed when its last request ends. */
  retain(): void {
    this.#active++;
  }

  release(): void {
    if (--this.#active === 0 && this.#resolveDrained) this.#resolveDrained();
  }

  get active(): number {
    return this.#active;
  }

  /** Resolves once no request holds this snapshot any more (at once when none does). */
  drained(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    // One promise for every caller (a retiring snapshot is also awaited by a shutdown).
    this.#drained ??= new Promise((resolve) => {
      this.#resolveDrained = () => {
        this.#drained = undefined;
        this.#resolveDrained = undefined;
        resolve();
      };
    });
    return this.#drained;
  }
}

function compileRoute(
  route: RouteConfig,
  config: SluiceConfig,
  upstreams: ReadonlyMap<string, Upstream>,
  policies: PolicyRegistry,
  plugins: ProvisionedPlugins | undefined,
): CompiledRoute {
  const routePolicies = compileRoutePolicies(route, config, upstreams, policies);
  return Object.freeze({
    name: route.name,
    config: route,
    ...routePolicies,
    plugins: RoutePlugins.compile(plugins, route.name, route.upstreams?.map((u) => u.name) ?? [route.upstream!]),
    rewritePath: compilePathRewrite(route),
    requestHeaders: compileHeaderOps(route.requestHeaders),
    responseHeaders: compileHeaderOps(route.responseHeaders),
    hostOverride: route.hostHeader === 'preserve' ? undefined : route.hostHeader === 'target' ? '' : route.hostHeader,
    timeout: route.timeout || undefined,
    responseTimeout: route.responseTimeout,
    idleTimeout: route.idleTimeout,
    maxBodySize: route.maxBodySize,
    retry: compileRetryPolicy(route.retries, route.retries && route.retries.attempts > 0 ? policies.retryBudget(route.name, route.retries.budget) : undefined),
  });
}

function routeTableFor(listener: ListenerConfig, routes: readonly CompiledRoute[]): RouteTable<CompiledRoute> {
  const mine = routes.filter((r) => !r.config.listeners || r.config.listeners.includes(listener.name));
  return compileRouteTable(mine.map((r) => ({ match: r.config.match, value: r })));
}

function compileTrustedProxies(entries: readonly string[]): BlockList | undefined {
  return entries.length === 0 ? undefined : compileAddressList(entries);
}

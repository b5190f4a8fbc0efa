// The data plane's root: owns the current snapshot, the listening servers and the long-lived upstream registry.
// apply() provisions a complete new snapshot (and any new listener) beside the old one, then swaps one
// reference; the old snapshot is disposed once its last request ends. A failure anywhere before the swap leaves
// the running config untouched.
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import type { ListenerConfig, SluiceConfig } from '../config/schema.ts';
import { createObservability, type Observability, type ObservabilityConfig, type ObservabilityOptions } from '../observability/index.ts';
import type { Logger } from '../observability/logger.ts';
import { PluginMetricsRegistry } from '../plugins/metrics.ts';
import { PluginRegistry } from '../plugins/registry.ts';
import type { Outage } from '../resilience/outage.ts';
import { PolicyRegistry } from '../snapshot/policy-registry.ts';
import { Snapshot } from '../snapshot/snapshot.ts';
import { UpstreamRegistry, type RegistryEvents, type UpstreamReport } from '../upstream/registry.ts';
import type { SnapshotSource } from './handle-request.ts';
import { closeTunnels } from './upgrade.ts';
import { createListenerServer, listen } from './listener.ts';

interface BoundListener {
  readonly config: ListenerConfig;
  readonly key: string;
  readonly server: http.Server;
}

interface ListenerPlan {
  listeners: Map<string, BoundListener>;
  /** New servers that take over the listening socket of a replaced server with the same address. */
  handovers: { server: http.Server; donor: http.Server }[];
}

export interface BoundAddress {
  name: string;
  host: string;
  port: number;
}

/**
 * Where health, circuit and outlier transitions and store outages are reported (the runtime logs them), and
 * where `store: local` rate-limit buckets live: this process, or the cluster primary (in a cluster worker).
 */
export interface GatewayOptions extends RegistryEvents {
  onOutage?: (outage: Outage) => void;
  localRateLimit?: 'process' | 'cluster';
  /**
   * This process's metrics, tracing and access log, created by the runtime from the config it started with (the
   * caller closes it). Without one the gateway makes its own from the first config applied, and closes it.
   */
  observability?: Observability;
  /** For the observability the gateway makes itself (a cluster worker's: its slot, sink error reports). */
  observabilityOptions?: ObservabilityOptions;
  /** Sluice's own log; plugins log through children of it (default: nothing is logged). */
  log?: Logger;
}

/** The process's own load protection, for the admin API. */
export interface OverloadReport {
  inFlight: number;
  /** Requests answered 503 overloaded, by reason. */
  shed: Record<string, number>;
  /** Connections refused because a listener had server.overload.maxConnections. */
  droppedConnections: number;
  eventLoopDelayMs: number;
  heapPercent: number;
}

/** How often a server being shut down looks for connections that went idle. */
const IDLE_POLL_MS = 50;

export class Gateway implements SnapshotSource {
  readonly registry: UpstreamRegistry;
  readonly policies: PolicyRegistry;
  /** Plugin instances, kept across reloads while their settings stay the same. */
  readonly plugins: PluginRegistry;
  #current: Snapshot | undefined;
  #listeners = new Map<string, BoundListener>();
  #retiring = new Set<Promise<void>>();
  /** Listener servers that stopped accepting (reload or shutdown) and resolve once their last connection ends. */
  #closingServers = new Map<http.Server, Promise<void>>();
  /** Open client connections per listener server, to end keep-alive on the requests they carry when it closes. */
  #connections = new WeakMap<http.Server, Set<Socket>>();
  #droppedConnections = 0;
  #observability: Observability | undefined;
  readonly #ownsObservability: boolean;
  readonly #observabilityOptions: ObservabilityOptions | undefined;
  /** Targets whose health and circuit gauges are exported, by "upstream\0target", to drop those that left. */
  #gaugedTargets = new Set<string>();

  constructor(options: GatewayOptions = {}) {
    this.registry = new UpstreamRegistry(options);
    this.policies = new PolicyRegistry({ localRateLimit: options.localRateLimit, onOutage: options.onOutage });
    this.#observability = options.observability;
    this.#ownsObservability = options.observability === undefined;
    this.#observabilityOptions = options.observabilityOptions;
    this.plugins = new PluginRegistry({
      log: options.log ?? silentLogger(),
      // Plugins make their metrics once this gateway's observability exists (apply() makes it first).
      metrics: new PluginMetricsRegistry((family) => this.#observability?.metrics.registerFamily(family)),
      services: { policies: this.policies },
    });
  }

  /** Undefined until the first config is applied when the gateway makes its own. */
  get observability(): Observability | undefined {
    return this.#observability;
  }

  get current(): Snapshot {
    if (!this.#current) throw new Error('gateway has no config yet');
    return this.#current;
  }

  get version(): number {
    return this.#current?.version ?? 0;
  }

  /** Compiles, binds and swaps; throws (keeping the running config) when the new config cannot be provisioned. */
  async apply(config: SluiceConfig, version = this.version + 1): Promise<Snapshot> {
    this.#observability ??= createObservability(observabilityConfig(config), this.#observabilityOptions);
    // Plugins first: loading modules and their init() are the parts most likely to fail, and cost nothing to undo.
    const plugins = await this.plugins.provision(config, this.#observability.metrics);
    let next: Snapshot;
    try {
      next = new Snapshot(version, config, this.registry, this.policies, this.#observability, plugins);
    } catch (err) {
      await plugins?.release();
      throw err;
    }
    let plan: ListenerPlan;
    try {
      plan = await this.#bindListeners(config.listeners);
    } catch (err) {
      await this.#dispose(next);
      throw err;
    }
    // From here on nothing can fail: the swap is synchronous.
    for (const { server, donor } of plan.handovers) takeOverSocket(server, donor);
    const previous = this.#current;
    const previousListeners = this.#listeners;
    this.#current = next;
    this.#listeners = plan.listeners;
    this.registry.activate(next.upstreams.values());
    this.policies.activate(next.routes.map((r) => r.name), next.overload);
    // Node closes connections past maxConnections at accept; 'drop' (trackConnections) counts them.
    for (const { server } of plan.listeners.values()) server.maxConnections = config.server.overload.maxConnections ?? Infinity;
    for (const [name, bound] of previousListeners) {
      if (plan.listeners.get(name) !== bound) void this.#stopAccepting(bound.server);
    }
    if (previous) this.#retire(previous);
    this.#observability.reconfigure(observabilityConfig(config));
    this.#observability.metrics.setConfigVersion(version);
    return next;
  }

  /**
   * Sets the gauges read from live upstream state — each target's health and circuit — just before a scrape, and
   * drops those of targets that left. Reading state at scrape time keeps the request path free of this work.
   */
  refreshUpstreamGauges(): void {
    const metrics = this.#observability?.metrics;
    if (metrics === undefined) return;
    const seen = new Set<string>();
    for (const upstream of this.registry.report()) {
      if (upstream.circuit !== undefined) {
        metrics.setCircuitState(upstream.name, UPSTREAM_BREAKER, upstream.circuit.state);
        seen.add(`${upstream.name}\0${UPSTREAM_BREAKER}`);
      }
      for (const t of upstream.targets) {
        metrics.setTargetHealth(upstream.name, t.target, t.healthy);
        if (t.circuit !== undefined) metrics.setCircuitState(upstream.name, t.target, t.circuit.state);
        seen.add(`${upstream.name}\0${t.target}`);
      }
    }
    for (const key of this.#gaugedTargets) {
      if (seen.has(key)) continue;
      const [upstream, target] = key.split('\0') as [string, string];
      metrics.removeTarget(upstream, target);
    }
    this.#gaugedTargets = seen;
  }

  /**
   * Servers for the new listener set. An unchanged listener keeps its server. A changed one gets a new server;
   * when a listener being replaced has the same address, the new server takes over its listening socket at the
   * swap (see takeOverSocket) instead of binding a second one: closing one socket of an SO_REUSEPORT pair resets
   * the connections the kernel had queued on it, which a busy listener always has.
   */
  async #bindListeners(configs: readonly ListenerConfig[]): Promise<ListenerPlan> {
    const listeners = new Map<string, BoundListener>();
    const handovers: ListenerPlan['handovers'] = [];
    const kept = new Set<BoundListener>();
    for (const config of configs) {
      const existing = this.#listeners.get(config.name);
      if (existing?.key === JSON.stringify(config)) kept.add(existing);
    }
    const donors = [...this.#listeners.values()].filter((l) => !kept.has(l));
    const opened: http.Server[] = [];
    try {
      for (const config of configs) {
        const key = JSON.stringify(config);
        const existing = this.#listeners.get(config.name);
        if (existing && kept.has(existing) && existing.key === key) {
          listeners.set(config.name, existing);
          continue;
        }
        const server = createListenerServer(this, config);
        this.#trackConnections(server);
        listeners.set(config.name, { config, key, server });
        const donor = donors.findIndex((d) => d.config.address === config.address);
        if (donor >= 0) {
          handovers.push({ server, donor: donors.splice(donor, 1)[0]!.server });
          continue;
        }
        try {
          await listen(server, config.address);
        } catch (err) {
          throw new Error(`cannot bind listener "${config.name}" to ${config.address}: ${bindProblem(err as NodeJS.ErrnoException)}`, { cause: err });
        }
        opened.push(server);
      }
    } catch (err) {
      for (const server of opened) server.close();
      throw err;
    }
    return { listeners, handovers };
  }

  #retire(snapshot: Snapshot): void {
    const done = snapshot.drained().then(() => this.#dispose(snapshot));
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
  }

  async #dispose(snapshot: Snapshot): Promise<void> {
    await Promise.all([
      ...[...snapshot.upstreams.values()].map((u) => this.registry.release(u)),
      snapshot.plugins?.release(),
    ]);
  }

  /**
   * A closing server answers with Connection: close (as Go's http.Server does once Shutdown starts), so keep-alive
   * clients move to the new socket after the request they are on instead of sending more to the old one.
   * Connections are tracked per connection, not per request: the request path pays nothing for this.
   */
  #trackConnections(server: http.Server): void {
    const sockets = new Set<Socket>();
    this.#connections.set(server, sockets);
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('drop', () => this.#droppedConnections++);
    server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.#closingServers.has(server)) res.shouldKeepAlive = false;
    });
  }

  /**
   * Stops accepting on a server and ends keep-alive on the requests in flight; resolves when the last connection
   * is gone. Idle keep-alive connections are left to end by themselves (the next request on one is answered with
   * Connection: close, or the listener's keepAliveTimeout ends it): closing an idle connection races with a
   * client that is sending on it that very moment, and that request would fail. Shutdown cannot wait that long
   * and calls #closeIdle as well.
   */
  #stopAccepting(server: http.Server): Promise<void> {
    const known = this.#closingServers.get(server);
    if (known) return known;
    for (const socket of this.#connections.get(server) ?? []) {
      // node:http keeps the response a connection is working on in `_httpMessage` (closeIdleConnections reads the
      // same field). A response whose head is out already keeps its keep-alive, and its connection idles out.
      const res = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
      if (res instanceof http.ServerResponse && !res.headersSent) res.shouldKeepAlive = false;
    }
    const closed = new Promise<void>((resolve) => {
      // net.Server's close stops accepting and leaves connections alone; http.Server's would also close the idle ones.
      net.Server.prototype.close.call(server, () => {
        this.#closingServers.delete(server);
        server.close(); // now lets node:http stop its connection-checking timer (no connections are left to close)
        resolve();
      });
    });
    this.#closingServers.set(server, closed);
    return closed;
  }

  /** Shutdown: closes each connection of a closing server as soon as it is idle (Go's Shutdown polls the same way). */
  #closeIdle(server: http.Server): void {
    server.closeIdleConnections();
    const poll = setInterval(() => server.closeIdleConnections(), IDLE_POLL_MS);
    poll.unref();
    void this.#closingServers.get(server)?.finally(() => clearInterval(poll));
  }

  /** Upstreams with their targets' health, circuits and limits as this process sees them. */
  upstreamReport(): UpstreamReport[] {
    return this.registry.report();
  }

  overloadReport(): OverloadReport {
    const guard = this.#current?.overload;
    return {
      inFlight: guard?.inFlight ?? 0,
      shed: { max_in_flight: 0, event_loop_delay: 0, heap: 0, ...guard?.shed },
      droppedConnections: this.#droppedConnections,
      eventLoopDelayMs: guard?.eventLoopDelayMs ?? 0,
      heapPercent: guard?.heapPercent ?? 0,
    };
  }

  addresses(): BoundAddress[] {
    return [...this.#listeners.values()].map(({ config, server }) => {
      const info = server.address() as AddressInfo;
      return { name: config.name, host: info.address, port: info.port };
    });
  }

  /**
   * Graceful stop: no new connections, in-flight requests get until the deadline (each connection is closed as
   * soon as its request is done), then whatever is left is cut. Resolves early when everything has finished.
   */
  async close(drainMs = this.#current?.config.server.drainTimeout ?? 10_000): Promise<void> {
    const current = [...this.#listeners.values()].map((l) => l.server);
    this.#listeners.clear();
    for (const server of current) void this.#stopAccepting(server);
    const servers = [...this.#closingServers.keys()];
    for (const server of servers) this.#closeIdle(server);
    const finished = Promise.all([this.#current?.drained(), ...this.#retiring, ...this.#closingServers.values()]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs);
    });
    await Promise.race([finished, deadline]);
    clearTimeout(timer);
    for (const server of servers) {
      server.closeAllConnections();
      closeTunnels(server); // upgraded connections are invisible to node:http once spliced
    }
    await this.registry.destroy();
    await this.plugins.close();
    await this.policies.close();
    if (this.#ownsObservability) await this.#observability?.close();
  }
}

function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The target label of an upstream's own circuit breaker in sluice_upstream_circuit_state. */
const UPSTREAM_BREAKER = '*';

/** The observability section of a config, with each route's own sampler. */
function observabilityConfig(config: SluiceConfig): ObservabilityConfig {
  const samplers = new Map(config.routes.flatMap((r) => (r.tracing === undefined ? [] : [[r.name, r.tracing.sampler] as const])));
  return { ...config.observability, routeSampler: samplers.size === 0 ? undefined : (name) => samplers.get(name) };
}


/**
 * The new server accepts on the old server's listening socket from now on (`server.listen(handle)` is node's
 * documented way to listen on an existing socket). The old server forgets the socket, so closing it later only
 * waits for its connections and never closes the socket the new server uses.
 */
function takeOverSocket(server: http.Server, donor: http.Server): void {
  server.listen(donor);
  (donor as http.Server & { _handle: unknown })._handle = null;
}

/** Why a bind failed, in words (the admin listener says it the same way). */
export function bindProblem(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'address already in use (EADDRINUSE)';
  if (err.code === 'EACCES') return 'permission denied (EACCES; ports below 1024 need privileges)';
  if (err.code === 'EADDRNOTAVAIL') return 'no such local address (EADDRNOTAVAIL)';
  return err.message;
}

// The data plane's root: owns the current snapshot, the listening servers and the long-lived upstream registry.
// apply() provisions a complete new snapshot (and any new listener) beside the old one, then swaps one
// reference; the old snapshot is disposed once its last request ends. A failure anywhere before the swap leaves
// the running config untouched.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenerConfig, SluiceConfig } from '../config/schema.ts';
import { Snapshot } from '../snapshot/snapshot.ts';
import type { HealthChange } from '../upstream/health-check.ts';
import { UpstreamRegistry } from '../upstream/registry.ts';
import type { SnapshotSource } from './handle-request.ts';
import { createListenerServer, listen } from './listener.ts';

interface BoundListener {
  readonly config: ListenerConfig;
  readonly key: string;
  readonly server: http.Server;
}

export interface BoundAddress {
  name: string;
  host: string;
  port: number;
}

export interface GatewayOptions {
  /** Where target health transitions are reported (the runtime logs them). */
  onHealthChange?: (change: HealthChange) => void;
}

export class Gateway implements SnapshotSource {
  readonly registry: UpstreamRegistry;
  #current: Snapshot | undefined;
  #listeners = new Map<string, BoundListener>();
  #retiring = new Set<Promise<void>>();

  constructor(options: GatewayOptions = {}) {
    this.registry = new UpstreamRegistry(options.onHealthChange);
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
    const next = new Snapshot(version, config, this.registry);
    let listeners: Map<string, BoundListener>;
    try {
      listeners = await this.#bindListeners(config.listeners);
    } catch (err) {
      await this.#dispose(next);
      throw err;
    }
    const previous = this.#current;
    const previousListeners = this.#listeners;
    this.#current = next;
    this.#listeners = listeners;
    for (const [name, bound] of previousListeners) {
      if (listeners.get(name) !== bound) closeGracefully(bound.server);
    }
    if (previous) this.#retire(previous);
    return next;
  }

  /** Servers for the new listener set: unchanged listeners keep their socket, changed ones get a new one. */
  async #bindListeners(configs: readonly ListenerConfig[]): Promise<Map<string, BoundListener>> {
    const next = new Map<string, BoundListener>();
    const opened: http.Server[] = [];
    try {
      for (const config of configs) {
        const key = JSON.stringify(config);
        const existing = this.#listeners.get(config.name);
        if (existing?.key === key) {
          next.set(config.name, existing);
          continue;
        }
        const server = createListenerServer(this, config);
        await listen(server, existing ? addressOf(existing.server, config.address) : config.address);
        opened.push(server);
        next.set(config.name, { config, key, server });
      }
    } catch (err) {
      for (const server of opened) server.close();
      throw err;
    }
    return next;
  }

  #retire(snapshot: Snapshot): void {
    const done = snapshot.drained().then(() => this.#dispose(snapshot));
    this.#retiring.add(done);
    void done.finally(() => this.#retiring.delete(done));
  }

  async #dispose(snapshot: Snapshot): Promise<void> {
    await Promise.all([...snapshot.upstreams.values()].map((u) => this.registry.release(u)));
  }

  addresses(): BoundAddress[] {
    return [...this.#listeners.values()].map(({ config, server }) => {
      const info = server.address() as AddressInfo;
      return { name: config.name, host: info.address, port: info.port };
    });
  }

  /** Graceful stop: no new connections, in-flight requests get until the deadline, then everything is cut. */
  async close(drainMs = this.#current?.config.server.drainTimeout ?? 10_000): Promise<void> {
    const servers = [...this.#listeners.values()].map((l) => l.server);
    this.#listeners.clear();
    for (const server of servers) closeGracefully(server);
    const drained = Promise.all([this.#current?.drained(), ...this.#retiring]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainMs);
    });
    await Promise.race([drained, deadline]);
    clearTimeout(timer);
    for (const server of servers) server.closeAllConnections();
    await this.registry.destroy();
  }
}

/** A listener whose address is unchanged but whose limits changed rebinds the same (possibly ephemeral) port. */
function addressOf(server: http.Server, configured: string): string {
  if (!configured.endsWith(':0')) return configured;
  const info = server.address() as AddressInfo | null;
  return info ? configured.slice(0, -1) + info.port : configured;
}

function closeGracefully(server: http.Server): void {
  server.close();
  server.closeIdleConnections();
}

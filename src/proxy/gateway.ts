// The data plane's root: owns the current snapshot, the listening servers and the long-lived upstream registry.
// apply() provisions a complete new snapshot (and any new listener) beside the old one, then swaps one
// reference; the old snapshot is disposed once its last request ends. A failure anywhere before the swap leaves
// the running config untouched.
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
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

/** How often a server being shut down looks for connections that went idle. */
const IDLE_POLL_MS = 50;

export class Gateway implements SnapshotSource {
  readonly registry: UpstreamRegistry;
  #current: Snapshot | undefined;
  #listeners = new Map<string, BoundListener>();
  #retiring = new Set<Promise<void>>();
  /** Listener servers that stopped accepting (reload or shutdown) and resolve once their last connection ends. */
  #closingServers = new Map<http.Server, Promise<void>>();
  /** Open client connections per listener server, to end keep-alive on the requests they carry when it closes. */
  #connections = new WeakMap<http.Server, Set<Socket>>();

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
      if (listeners.get(name) !== bound) void this.#stopAccepting(bound.server);
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
        this.#trackConnections(server);
        const address = existing && existing.config.address === config.address ? sameAddress(existing.server, config.address) : config.address;
        try {
          await listen(server, address);
        } catch (err) {
          throw new Error(`cannot bind listener "${config.name}" to ${address}: ${bindProblem(err as NodeJS.ErrnoException)}`, { cause: err });
        }
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
    for (const server of servers) server.closeAllConnections();
    await this.registry.destroy();
  }
}

/** A listener whose address is unchanged but whose limits changed rebinds the same (possibly ephemeral) port. */
function sameAddress(server: http.Server, configured: string): string {
  if (!configured.endsWith(':0')) return configured;
  const info = server.address() as AddressInfo | null;
  return info ? configured.slice(0, -1) + info.port : configured;
}

/** Why a bind failed, in words (the admin listener says it the same way). */
export function bindProblem(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'address already in use (EADDRINUSE)';
  if (err.code === 'EACCES') return 'permission denied (EACCES; ports below 1024 need privileges)';
  if (err.code === 'EADDRNOTAVAIL') return 'no such local address (EADDRNOTAVAIL)';
  return err.message;
}

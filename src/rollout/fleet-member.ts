// This instance's place in the fleet: its record under `<prefix>instances/<id>` (labels, admin address, the
// version it runs, its part in a rollout and, while one observes, its figures), kept under a lease so that an
// instance that dies drops out within the TTL. It follows `rollout/current` (a watch, and a read once a second
// in case an event was lost) and tells the control plane when it changed; the control plane decides what to
// apply (runtime/control-plane.ts) and tells it back through applied(). Once a second while a rollout
// observes it publishes its figures and gives the controller its turn (controller.ts, which acts only on the
// instance that holds the lock).
import type { Etcd3, Lease, Watcher } from 'etcd3';
import { etcdProblem } from '../etcd/client.ts';
import type { Logger } from '../observability/logger.ts';
import type { EtcdRollouts, Observing } from './etcd-rollouts.ts';
import type { InstanceRecord, InstanceRollout, Rollout, RolloutPeer } from './types.ts';
import { WindowReadings, type MetricSource } from './window-stats.ts';

export interface FleetMemberOptions {
  client: Etcd3;
  rollouts: EtcdRollouts;
  /** store.etcd.instance.id; default `<hostname>:<admin port>`. */
  id: string | undefined;
  labels: Record<string, string>;
  /** This process's metrics, one snapshot per worker (the data /metrics aggregates), each with its process. */
  snapshots: () => Promise<MetricSource[]>;
  log: Logger;
  /** Seconds (store.etcd.instance.ttl; default 10): the lease of the record, and of the controller lock. */
  ttl?: number;
  /** ms between two rounds (default 1000). */
  interval?: number;
}

export class FleetMember implements RolloutPeer {
  readonly #o: FleetMemberOptions;
  readonly #rollouts: EtcdRollouts;
  #id = '';
  #record: InstanceRecord | undefined;
  #lease: Lease | undefined;
  #leaseId: string | undefined;
  #watcher: Watcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The figures since this instance applied what it runs (or since the rollout started, for the others). */
  #window: WindowReadings | undefined;
  /** The id of the rollout observing as last seen (undefined: none). */
  #seen: string | undefined;
  #closed = false;
  #running = false;
  #again = false;
  /** Told when the observing rollout changed (started or ended): the control plane syncs. */
  onRolloutChange: () => void = () => {};
  /** Each round while a rollout observes (the controller's turn); gets the lease that holds the lock. */
  onObserving: (observing: Observing, lease: string) => Promise<void> = async () => {};

  constructor(options: FleetMemberOptions) {
    this.#o = options;
    this.#rollouts = options.rollouts;
  }

  get instanceId(): string {
    return this.#id;
  }

  /** Registers this instance (once its admin address is known) and starts following rollouts. */
  async start(admin: string, hostname: string): Promise<void> {
    this.#id = this.#o.id ?? `${hostname}:${admin.slice(admin.lastIndexOf(':') + 1)}`;
    const now = new Date().toISOString();
    this.#record = { id: this.#id, labels: this.#o.labels, admin, pid: process.pid, startedAt: now, configVersion: 0, ...this.#record, updatedAt: now };
    await this.#grant();
    this.#watch();
    this.#timer = setInterval(() => void this.#round(), this.#o.interval ?? 1000);
    this.#timer.unref();
  }

  async observing(): Promise<Rollout | undefined> {
    return (await this.#rollouts.current())?.rollout;
  }

  applied(version: number, part: InstanceRollout | undefined): void {
    const at = part?.at ?? new Date().toISOString();
    this.#record = { ...(this.#record ?? emptyRecord()), configVersion: version, updatedAt: at };
    if (part) this.#record.rollout = part;
    else delete this.#record.rollout;
    delete this.#record.stats;
    void this.#rebase(at).then(() => this.#publish());
  }

  /** Figures count from now: after an apply, or (for an instance that is no canary) when a rollout starts. */
  async #rebase(since: string): Promise<void> {
    try {
      this.#window = new WindowReadings(since, await this.#o.snapshots());
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'cannot read the metrics for rollout figures');
    }
  }

  /** One round at a time: a watch event during a round asks for one more after it. */
  async #round(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        await this.#roundOnce();
      } while (this.#again && !this.#closed);
    } finally {
      this.#running = false;
    }
  }

  async #roundOnce(): Promise<void> {
    if (this.#closed || this.#leaseId === undefined) return;
    let observing: Observing | undefined;
    try {
      observing = await this.#rollouts.current();
    } catch {
      return; // etcd is away: the store's own probe reports it.
    }
    const id = observing?.rollout.id;
    if (id !== this.#seen) {
      this.#seen = id;
      if (observing && !observing.rollout.canaries.includes(this.#id)) await this.#rebase(new Date().toISOString());
      this.onRolloutChange();
    }
    if (!observing) {
      if (this.#record?.stats) {
        delete this.#record.stats;
        await this.#publish();
      }
      return;
    }
    if (this.#window) {
      try {
        const stats = this.#window.read(await this.#o.snapshots());
        this.#record = { ...this.#record!, stats, updatedAt: new Date().toISOString() };
        await this.#publish();
      } catch (err) {
        this.#o.log.warn({ err: (err as Error).message }, 'cannot publish rollout figures');
      }
    }
    try {
      await this.onObserving(observing, this.#leaseId);
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message, rollout: id }, 'rollout controller round failed; trying again in a second');
    }
  }

  async #publish(): Promise<void> {
    const lease = this.#lease;
    if (!lease || !this.#record || this.#closed) return;
    try {
      await lease.put(this.#rollouts.instancesPrefix + this.#id).value(JSON.stringify(this.#record));
    } catch (err) {
      this.#o.log.debug({ err: etcdProblem(err) }, 'cannot publish the instance record');
    }
  }

  /** A lease with the record under it; a lease lost while etcd was away is replaced as soon as it answers. */
  async #grant(): Promise<void> {
    const lease = this.#o.client.lease(this.#o.ttl ?? 10, { autoKeepAlive: true });
    this.#lease = lease;
    lease.on('lost', (err: Error) => {
      if (this.#closed || this.#lease !== lease) return;
      this.#leaseId = undefined;
      this.#o.log.warn({ err: etcdProblem(err), instance: this.#id }, 'instance registration lost; registering again');
      const retry = () =>
        setTimeout(() => {
          if (!this.#closed) this.#grant().catch(() => retry());
        }, 1000).unref();
      retry();
    });
    this.#leaseId = await lease.grant();
    await this.#publish();
  }

  #watch(): void {
    const watcher = this.#o.client.watch().key(this.#rollouts.currentKey).watcher();
    this.#watcher = watcher;
    const changed = () => {
      if (!this.#closed) void this.#round();
    };
    watcher.on('put', changed);
    watcher.on('delete', changed);
    watcher.on('error', () => {
      void watcher.cancel().catch(() => undefined);
      if (!this.#closed) setTimeout(() => this.#watch(), 200).unref();
    });
  }

  /** Leaves the fleet at once (revokes the lease: the record and any lock go with it). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#watcher?.cancel().catch(() => undefined);
    await this.#lease?.revoke().catch(() => undefined);
  }
}

function emptyRecord(): InstanceRecord {
  const now = new Date().toISOString();
  return { id: '', labels: {}, admin: '', pid: process.pid, startedAt: now, configVersion: 0, updatedAt: now };
}

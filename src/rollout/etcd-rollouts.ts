// A staged rollout's keys in etcd, under the fleet's prefix (docs/distributed.md, "Staged rollout"):
//   <prefix>rollout/current     the rollout observing now; present only while it observes (the version store
//                               refuses every commit but its promotion while it is there)
//   <prefix>rollouts/<id>       finished rollouts with their decision, the newest MAX_FINISHED kept
//   <prefix>rollout/lock        which instance runs the controller, under that instance's lease
//   <prefix>instances/<id>      each live instance (fleet-member.ts), under its lease
// Starting and ending a rollout are single transactions, so two instances can never both start one, nor both
// decide one: the loser's compare fails and it reads what the winner wrote.
import { Range, type Etcd3 } from 'etcd3';
import type { InstanceRecord, Rollout } from './types.ts';

/** Finished rollouts kept for GET /api/v1/rollouts. */
export const MAX_FINISHED = 100;

/** The rollout observing now and the mod revision of its key (the compare of whatever ends it). */
export interface Observing {
  rollout: Rollout;
  modRevision: string;
}

export class EtcdRollouts {
  readonly #client: Etcd3;
  readonly #latest: string;
  readonly currentKey: string;
  readonly #finished: string;
  readonly #lock: string;
  readonly instancesPrefix: string;

  constructor(client: Etcd3, prefix: string) {
    this.#client = client;
    this.#latest = `${prefix}config/latest`;
    this.currentKey = `${prefix}rollout/current`;
    this.#finished = `${prefix}rollouts/`;
    this.#lock = `${prefix}rollout/lock`;
    this.instancesPrefix = `${prefix}instances/`;
  }

  async current(): Promise<Observing | undefined> {
    const kv = (await this.#client.get(this.currentKey).exec()).kvs[0];
    return kv === undefined ? undefined : { rollout: JSON.parse(kv.value.toString()) as Rollout, modRevision: kv.mod_revision };
  }

  /** The newest version number and its pointer's mod revision (a rollout starts only if it is still the newest). */
  async latest(): Promise<{ version: number; modRevision: string }> {
    const kv = (await this.#client.get(this.#latest).exec()).kvs[0];
    return { version: kv === undefined ? 0 : Number(kv.value.toString()), modRevision: kv?.mod_revision ?? '0' };
  }

  /** Writes `rollout/current` if no rollout observes and `config/latest` has not moved since `latestMod`. */
  async start(rollout: Rollout, latestMod: string): Promise<'started' | 'busy' | 'moved'> {
    const done = await this.#client
      .if(this.currentKey, 'Create', '==', 0)
      .and(this.#latest, 'Mod', '==', latestMod)
      .then(this.#client.put(this.currentKey).value(JSON.stringify(rollout)))
      .commit();
    if (done.succeeded) return 'started';
    return (await this.current()) ? 'busy' : 'moved';
  }

  /** Ends the observing rollout without a new version (rolled back or aborted); false if it changed meanwhile. */
  async finish(observing: Observing, ended: Rollout): Promise<boolean> {
    const done = await this.#client
      .if(this.currentKey, 'Mod', '==', observing.modRevision)
      .then(this.#client.delete().key(this.currentKey), this.#client.put(this.finishedKey(ended.id)).value(JSON.stringify(ended)))
      .commit();
    if (done.succeeded) await this.trimFinished();
    return done.succeeded;
  }

  finishedKey(id: string): string {
    return this.#finished + id;
  }

  /** Finished rollouts, newest first. */
  async finished(limit = MAX_FINISHED): Promise<Rollout[]> {
    const all = await this.#client.getAll().prefix(this.#finished).sort('Key', 'Descend').limit(limit).strings();
    return Object.keys(all)
      .sort()
      .reverse()
      .map((key) => JSON.parse(all[key]!) as Rollout);
  }

  async instances(): Promise<InstanceRecord[]> {
    const all = await this.#client.getAll().prefix(this.instancesPrefix).strings();
    return Object.keys(all)
      .sort()
      .map((key) => JSON.parse(all[key]!) as InstanceRecord);
  }

  /**
   * Takes the controller lock under `lease` if nobody holds it; returns the holder's id either way. The key goes
   * with its holder's lease, so another instance takes over within the lease TTL when the holder dies.
   */
  async lock(id: string, lease: string): Promise<string | undefined> {
    const done = await this.#client
      .if(this.#lock, 'Create', '==', 0)
      .then(this.#client.put(this.#lock).value(id).lease(lease))
      .else(this.#client.get(this.#lock))
      .commit();
    if (done.succeeded) return id;
    const kv = done.responses[0]?.response_range?.kvs[0];
    return kv?.value.toString();
  }

  /**
   * Rollout ids start with the time, so key order is time order: the oldest beyond MAX_FINISHED go. Called after
   * each ending (finish() here, a promotion by the controller); never throws.
   */
  async trimFinished(): Promise<void> {
    // Best effort: the rollout has ended either way, and the next ending trims what this one could not.
    try {
      const keys = await this.#client.getAll().prefix(this.#finished).sort('Key', 'Ascend').keys();
      if (keys.length <= MAX_FINISHED) return;
      const last = keys[keys.length - MAX_FINISHED - 1]!;
      await this.#client.delete().range(new Range(this.#finished, `${last}\0`));
    } catch {
      // etcd unreachable for a moment
    }
  }
}

// The distributed config store: versions in etcd under <prefix>config/, shared by every instance with that
// prefix. A commit is one etcd transaction, compare-and-swap on the mod revision of the `latest` key: the new
// version, its history entry and the pointer are written together or not at all, so two instances can never
// number a version twice, and an If-Match write based on a version that another instance has since replaced
// fails (VersionConflictError → 409). Followers learn of a new version from a watch on `latest` and, in case a
// watch event is lost or etcd was away, from a probe of `latest` once a second, which also tells whether etcd
// can be reached.
//
// Keys (N zero-padded to 10 digits, so key order is version order):
//   <prefix>config/latest          N
//   <prefix>config/versions/N      the version as JSON, text included
//   <prefix>config/history/N       its metadata only (the history listing reads these, not every config)
//   <prefix>rollout/current        present only while a staged rollout observes a candidate (src/rollout/): every
//                                  commit requires it absent, except the one that promotes that rollout, which
//                                  removes it in the same transaction — so no write can slip in during a rollout.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { Range } from 'etcd3';
import { etcdClient, etcdProblem, isUnreachable, type EtcdClientOptions } from '../etcd/client.ts';
import {
  metaOf,
  parseVersion,
  RolloutInProgressError,
  StoreUnavailableError,
  VersionConflictError,
  type ConfigVersion,
  type NewVersion,
  type SharedConfigStore,
  type StoreFollower,
  type StoreHealth,
  type VersionMeta,
  versionRecord,
} from './version-store.ts';

export interface EtcdStoreOptions {
  endpoints: string[];
  /** Ends with "/". */
  prefix: string;
  /** ms. */
  requestTimeout: number;
  /** ms: how long open() waits for etcd to answer. */
  dialTimeout: number;
  maxVersions: number;
  /** How often followers probe etcd, ms (default 1000). */
  probeInterval?: number;
  username?: string;
  password?: string;
  tls?: EtcdClientOptions['tls'];
}

/** How a promotion ends its rollout: `rollout/current` at this mod revision goes, the finished record is written. */
export interface RolloutEnding {
  modRevision: string;
  finish: { key: string; value: (version: number) => string };
}

/** Commits without If-Match retry on a lost race this many times. */
const COMMIT_ATTEMPTS = 5;

export class EtcdVersionStore implements SharedConfigStore {
  readonly shared = true;
  readonly backend = 'etcd';
  readonly location: string;
  readonly client: Etcd3;
  readonly #latestKey: string;
  readonly #versions: string;
  readonly #history: string;
  /** The rollout gate (see the key list above). */
  readonly #rollout: string;
  readonly #max: number;
  readonly #probeMs: number;
  #health: StoreHealth = { state: 'ok', since: new Date().toISOString() };

  private constructor(options: EtcdStoreOptions) {
    this.location = `etcd ${options.endpoints.join(',')} ${options.prefix}`;
    this.client = etcdClient(options);
    this.#latestKey = `${options.prefix}config/latest`;
    this.#versions = `${options.prefix}config/versions/`;
    this.#history = `${options.prefix}config/history/`;
    this.#rollout = `${options.prefix}rollout/current`;
    this.#max = options.maxVersions;
    this.#probeMs = options.probeInterval ?? 1000;
  }

  /**
   * Connects and reads the newest version once, so an unreachable etcd fails the start (StoreUnavailableError)
   * instead of the first request.
   *
   * @example
   * const store = await EtcdVersionStore.open({ endpoints: ['http://127.0.0.1:2379'], prefix: '/sluice/', requestTimeout: 2000, dialTimeout: 5000, maxVersions: 1000 });
   */
  static async open(options: EtcdStoreOptions): Promise<EtcdVersionStore> {
    const store = new EtcdVersionStore(options);
    const deadline = Date.now() + options.dialTimeout;
    for (;;) {
      try {
        await store.client.get(store.#latestKey).options({ deadline: Math.min(deadline, Date.now() + options.requestTimeout) }).string();
        return store;
      } catch (err) {
        if (!isUnreachable(err)) {
          // An answer, only not the one hoped for (wrong password, no permission): waiting will not change it.
          store.client.close();
          throw new Error(`etcd at ${options.endpoints.join(', ')} refused: ${etcdProblem(err)}`, { cause: err });
        }
        if (Date.now() >= deadline) {
          store.client.close();
          throw new StoreUnavailableError(`cannot reach etcd at ${options.endpoints.join(', ')} within ${options.dialTimeout} ms: ${etcdProblem(err)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async latest(): Promise<ConfigVersion | undefined> {
    // The pointer, then that version: two small reads (a descending range over versions/ would make etcd read
    // every kept version to sort them).
    const pointer = await this.#call(() => this.client.get(this.#latestKey).string());
    return pointer === null ? undefined : this.get(Number(pointer));
  }

  async list(): Promise<VersionMeta[]> {
    const all = await this.#call(() => this.client.getAll().prefix(this.#history).sort('Key', 'Ascend').strings());
    return Object.keys(all)
      .sort()
      .map((key) => JSON.parse(all[key]!) as VersionMeta);
  }

  async get(version: number): Promise<ConfigVersion | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const text = await this.#call(() => this.client.get(this.#versions + pad(version)).string());
    return text === null ? undefined : parseVersion(text);
  }

  async commit(entry: NewVersion, expected?: number): Promise<ConfigVersion> {
    return this.#commit(entry, expected, undefined);
  }

  /**
   * Promotes the rollout observing now: commits its candidate as version `expected + 1` and, in the same
   * transaction, removes `rollout/current` (compared on its mod revision: an abort in between wins) and writes
   * `finish` (the finished rollout's record).
   */
  promoteRollout(entry: NewVersion, expected: number, rollout: RolloutEnding): Promise<ConfigVersion> {
    return this.#commit(entry, expected, rollout);
  }

  async #commit(entry: NewVersion, expected: number | undefined, rollout: RolloutEnding | undefined): Promise<ConfigVersion> {
    for (let attempt = 1; ; attempt++) {
      const pointer = await this.#call(() => this.client.get(this.#latestKey).exec());
      const kv = pointer.kvs[0];
      const current = kv === undefined ? 0 : Number(kv.value.toString());
      if (expected !== undefined && expected !== current) throw new VersionConflictError(expected, current);
      const version = versionRecord(entry, current + 1);
      const meta = metaOf(version);
      const oldest = version.version - this.#max + 1;
      const writes = [
        this.client.put(this.#versions + pad(version.version)).value(JSON.stringify(version)),
        this.client.put(this.#history + pad(version.version)).value(JSON.stringify(meta)),
        this.client.put(this.#latestKey).value(String(version.version)),
        ...(rollout ? [this.client.delete().key(this.#rollout), this.client.put(rollout.finish.key).value(rollout.finish.value(version.version))] : []),
      ];
      // Past maxVersions the oldest go, in the same transaction (the range covers any earlier leftovers too).
      const prune =
        oldest > 1
          ? [
              this.client.delete().range(new Range(this.#versions + pad(0), this.#versions + pad(oldest))),
              this.client.delete().range(new Range(this.#history + pad(0), this.#history + pad(oldest))),
            ]
          : [];
      // A missing key's mod revision compares as 0: "nobody has committed yet" (and "no rollout is observing").
      const swapped = await this.#call(() =>
        this.client
          .if(this.#latestKey, 'Mod', '==', kv?.mod_revision ?? 0)
          .and(this.#rollout, 'Mod', '==', rollout?.modRevision ?? 0)
          .then(...writes, ...prune)
          .commit(),
      );
      if (swapped.succeeded) return version;
      const gate = await this.#call(() => this.client.get(this.#rollout).exec());
      const observing = gate.kvs[0];
      if (!rollout && observing) throw new RolloutInProgressError((JSON.parse(observing.value.toString()) as { id: string }).id);
      if (rollout && observing?.mod_revision !== rollout.modRevision) throw new Error('the rollout changed (aborted or decided elsewhere) before it could be promoted');
      // Someone else committed between our read and our write.
      if (expected !== undefined || attempt >= COMMIT_ATTEMPTS) {
        const now = await this.#call(() => this.client.get(this.#latestKey).string());
        throw new VersionConflictError(expected ?? current, Number(now ?? 0));
      }
    }
  }

  health(): StoreHealth {
    return this.#health;
  }

  follow(follower: StoreFollower): () => void {
    let stopped = false;
    let watcher: Watcher | undefined;
    // Told on every probe too, not only on news: a follower that failed to read a version a moment ago (etcd
    // blinked) tries again; one that runs it already ignores the number.
    const tell = (n: number) => {
      if (stopped || !Number.isSafeInteger(n) || n < 1) return;
      follower.latest(n);
    };
    const setHealth = (state: StoreHealth['state'], reason?: string) => {
      if (this.#health.state === state && this.#health.reason === reason) return;
      this.#health = { state, ...(reason === undefined ? {} : { reason }), since: new Date().toISOString() };
      if (!stopped) follower.health(this.#health);
    };
    const probe = async () => {
      try {
        const value = await this.client.get(this.#latestKey).string();
        setHealth('ok');
        if (value !== null) tell(Number(value));
      } catch (err) {
        setHealth('degraded', `etcd unreachable: ${etcdProblem(err)}`);
      }
    };
    const watch = () => {
      watcher = this.client.watch().key(this.#latestKey).watcher();
      watcher.on('put', (kv: IKeyValue) => tell(Number(kv.value.toString())));
      watcher.on('disconnected', (err: Error) => setHealth('degraded', `etcd unreachable: ${etcdProblem(err)}`));
      // Back after an outage: the watch replays what it missed, and the probe confirms the newest version.
      watcher.on('connected', () => void probe());
      // Cancelled by etcd (e.g. the revision it resumes from was compacted): watch afresh, and read the newest.
      watcher.on('error', () => {
        void watcher?.cancel().catch(() => undefined);
        if (!stopped) setTimeout(watch, 200).unref();
        void probe();
      });
    };
    watch();
    let probing = false;
    const timer = setInterval(() => {
      if (probing) return;
      probing = true;
      void probe().finally(() => (probing = false));
    }, this.#probeMs);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
      void watcher?.cancel().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** Runs one etcd call; a failure to reach etcd becomes StoreUnavailableError, any other is etcd's answer. */
  async #call<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (isUnreachable(err)) throw new StoreUnavailableError(`the config store (${this.location}) cannot be reached: ${etcdProblem(err)}`);
      throw new Error(`etcd refused the request: ${etcdProblem(err)}`, { cause: err });
    }
  }
}

function pad(n: number): string {
  return String(n).padStart(10, '0');
}


// Targets from the etcd registry: every instance of a service holds a key <prefix><service>/<id> whose value is
// {"url": "http://10.0.0.5:8080", "weight": 1}, under a lease it keeps alive (register.ts). The key disappears when
// the instance deregisters or stops heartbeating (the lease expires), and the watch removes the target. The list
// is read once, then followed by a watch from that revision on, which etcd3 resumes where it left off after a
// disconnection; while etcd is unreachable the last known targets stay.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { EtcdDiscoveryConfig } from '../config/discovery-schema.ts';
import { etcdClient, etcdProblem } from '../etcd/client.ts';
import { sameTargets, sortTargets, type DiscoveredTarget, type DiscoveryListener, type TargetSource } from './types.ts';

const TARGET_URL = /^https?:\/\/[^/\s?#]+\/?$/;
/** Pause before reading the list again after a failure. */
const RETRY_MS = 1000;

/** The value a registration writes: what `register()` puts under its key. */
export interface Registration {
  url: string;
  weight?: number;
}

/** Parses a registration value; undefined when it is not one. */
export function parseRegistration(value: string): DiscoveredTarget | undefined {
  let parsed: Partial<Registration>;
  try {
    parsed = JSON.parse(value) as Partial<Registration>;
  } catch {
    return undefined;
  }
  if (typeof parsed.url !== 'string' || !TARGET_URL.test(parsed.url)) return undefined;
  const weight = typeof parsed.weight === 'number' && Number.isInteger(parsed.weight) ? Math.min(10_000, Math.max(1, parsed.weight)) : 1;
  return { url: new URL(parsed.url).origin, weight };
}

export class EtcdTargetSource implements TargetSource {
  readonly description: string;
  readonly #config: EtcdDiscoveryConfig;
  readonly #prefix: string;
  #client: Etcd3 | undefined;
  #watcher: Watcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Registrations by key. */
  #entries = new Map<string, DiscoveredTarget>();
  #emitted: DiscoveredTarget[] | undefined;

  constructor(config: EtcdDiscoveryConfig) {
    this.#config = config;
    this.#prefix = `${config.prefix}${config.service}/`;
    this.description = `etcd ${config.endpoints.join(',')} ${this.#prefix}`;
  }

  start(listener: DiscoveryListener): void {
    this.#client = etcdClient(this.#config);
    void this.#list(listener);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    void this.#watcher?.cancel().catch(() => undefined);
    this.#client?.close();
  }

  /** Reads every registration, then watches for changes from the revision read. */
  async #list(listener: DiscoveryListener): Promise<void> {
    const client = this.#client!;
    try {
      const answer = await client.getAll().prefix(this.#prefix).exec();
      if (this.#stopped) return;
      this.#entries = new Map();
      for (const kv of answer.kvs) this.#put(kv, listener);
      listener.error(undefined);
      this.#emit(listener);
      this.#watch(listener, String(Number(answer.header.revision) + 1));
    } catch (err) {
      if (this.#stopped) return;
      listener.error(new Error(`etcd registry ${this.#prefix}: ${etcdProblem(err)}`, { cause: err }));
      this.#timer = setTimeout(() => void this.#list(listener), RETRY_MS);
      this.#timer.unref();
    }
  }

  #watch(listener: DiscoveryListener, fromRevision: string): void {
    const watcher = this.#client!.watch().prefix(this.#prefix).startRevision(fromRevision).watcher();
    this.#watcher = watcher;
    watcher.on('put', (kv: IKeyValue) => {
      this.#put(kv, listener);
      this.#emit(listener);
    });
    watcher.on('delete', (kv: IKeyValue) => {
      this.#entries.delete(kv.key.toString());
      this.#emit(listener);
    });
    watcher.on('disconnected', (err: Error) => listener.error(new Error(`etcd registry ${this.#prefix}: ${etcdProblem(err)}`, { cause: err })));
    watcher.on('connected', () => listener.error(undefined));
    // Cancelled by etcd (the revision to resume from was compacted away): read the list afresh.
    watcher.on('error', () => {
      void watcher.cancel().catch(() => undefined);
      if (!this.#stopped) void this.#list(listener);
    });
  }

  #put(kv: IKeyValue, listener: DiscoveryListener): void {
    const key = kv.key.toString();
    const target = parseRegistration(kv.value.toString());
    if (target) this.#entries.set(key, target);
    else {
      this.#entries.delete(key);
      listener.error(new Error(`etcd registry: ignored ${key}: its value is not {"url": "http://host:port", "weight": N}`));
    }
  }

  #emit(listener: DiscoveryListener): void {
    // Two registrations of one origin (a restart that re-registered before the old lease expired) are one target.
    const byUrl = new Map<string, DiscoveredTarget>();
    for (const t of this.#entries.values()) byUrl.set(t.url, t);
    const targets = sortTargets([...byUrl.values()]);
    if (sameTargets(this.#emitted, targets)) return;
    this.#emitted = targets;
    listener.targets(targets);
  }
}

// Long-lived state of the route and gateway policies, reused by every snapshot that keeps their settings (as
// UpstreamRegistry does for targets): rate-limit stores (their buckets, their Redis connections), retry budgets per
// route and the overload guard. A store is closed when the last snapshot using it is disposed.
import type { OverloadConfig, RateLimitConfig, RateLimitStoreConfig, RetryExtrasConfig } from '../config/resilience-schema.ts';
import { overloadOptions, retryBudgetOptions } from '../resilience/from-config.ts';
import type { Outage } from '../resilience/outage.ts';
import { OverloadGuard } from '../resilience/overload.ts';
import { ClusterRateLimitStore } from '../resilience/rate-limit/cluster-store.ts';
import { LocalRateLimitStore } from '../resilience/rate-limit/local-store.ts';
import { RedisRateLimitStore } from '../resilience/rate-limit/redis-store.ts';
import type { RateLimitStore } from '../resilience/rate-limit/store.ts';
import { RetryBudget } from '../resilience/retry-budget.ts';

export interface PolicyRegistryOptions {
  /**
   * Where `store: local` buckets live: in this process (`--workers 1`), or in the cluster primary, asked over IPC,
   * so that the limit is exact across workers (the primary serves the takes: runtime/worker-set.ts).
   */
  localRateLimit?: 'process' | 'cluster';
  /** A shared store (Redis, the cluster primary) or a mirror's shadow became unreachable, or came back. */
  onOutage?: (outage: Outage) => void;
}

/** How long a new Redis store may take to connect before the config that needs it is refused. */
const REDIS_READY_MS = 3000;

interface HeldStore {
  store: RateLimitStore;
  refs: number;
}

export class PolicyRegistry {
  readonly #localMode: 'process' | 'cluster';
  readonly onOutage: (outage: Outage) => void;
  readonly #stores = new Map<string, HeldStore>();
  readonly #budgets = new Map<string, { key: string; budget: RetryBudget }>();
  #overload: { key: string; guard: OverloadGuard | undefined } = { key: '', guard: undefined };

  constructor(options: PolicyRegistryOptions = {}) {
    this.#localMode = options.localRateLimit ?? 'process';
    this.onOutage = options.onOutage ?? (() => {});
  }

  /** The store a route's rate limit takes from; release it when the snapshot is disposed. */
  acquireStore(limit: RateLimitConfig, server: RateLimitStoreConfig): RateLimitStore {
    const key = this.#storeKey(limit, server);
    let held = this.#stores.get(key);
    if (!held) {
      held = { store: this.#createStore(limit, server), refs: 0 };
      this.#stores.set(key, held);
    }
    held.refs++;
    return held.store;
  }

  #storeKey(limit: RateLimitConfig, server: RateLimitStoreConfig): string {
    if (limit.store === 'redis') return JSON.stringify(['redis', server.redis, limit.failureMode]);
    return this.#localMode === 'cluster' ? JSON.stringify(['cluster', limit.failureMode]) : JSON.stringify(['local', server.maxLocalKeys]);
  }

  #createStore(limit: RateLimitConfig, server: RateLimitStoreConfig): RateLimitStore {
    if (limit.store === 'redis') {
      // The schema's cross-check guarantees server.rateLimit.redis for store: redis.
      const redis = server.redis!;
      return new RedisRateLimitStore({
        url: redis.url,
        keyPrefix: redis.keyPrefix,
        commandTimeoutMs: redis.commandTimeout,
        failureMode: limit.failureMode,
        onOutage: this.onOutage,
      });
    }
    if (this.#localMode === 'cluster') return new ClusterRateLimitStore({ failureMode: limit.failureMode, onOutage: this.onOutage });
    return new LocalRateLimitStore({ maxKeys: server.maxLocalKeys });
  }

  /** Resolves once every store in `stores` can answer; rejects when a Redis cannot be reached in time. */
  async ready(stores: Iterable<RateLimitStore>): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const store of new Set(stores)) if (store instanceof RedisRateLimitStore) waits.push(store.ready(REDIS_READY_MS));
    try {
      await Promise.all(waits);
    } catch (err) {
      throw new Error(`the rate-limit store cannot be reached: ${(err as Error).message}`, { cause: err });
    }
  }

  async releaseStore(store: RateLimitStore): Promise<void> {
    for (const [key, held] of this.#stores) {
      if (held.store !== store || --held.refs > 0) continue;
      this.#stores.delete(key);
      await store.close();
    }
  }

  /**
   * A route's retry budget. It counts the route's requests and retries in flight, so it outlives a reload that
   * keeps its settings: the requests of the old snapshot still count against the new one's retries.
   */
  retryBudget(route: string, config: RetryExtrasConfig['budget']): RetryBudget {
    const key = JSON.stringify(config);
    const known = this.#budgets.get(route);
    if (known?.key === key) return known.budget;
    const budget = new RetryBudget(retryBudgetOptions(config));
    this.#budgets.set(route, { key, budget });
    return budget;
  }

  /** The process's overload guard for these settings; undefined when they limit nothing. */
  overloadGuard(config: OverloadConfig): OverloadGuard | undefined {
    const key = JSON.stringify(config);
    if (key === this.#overload.key) return this.#overload.guard;
    const limits = config.maxInFlight > 0 || config.maxEventLoopDelay > 0 || config.maxHeapPercent > 0;
    this.#overload = { key, guard: limits ? new OverloadGuard(overloadOptions(config)) : undefined };
    return this.#overload.guard;
  }

  /** The snapshot using these went live: forget budgets of routes it no longer has, sample for its guard. */
  activate(routes: Iterable<string>, overload: OverloadGuard | undefined): void {
    const live = new Set(routes);
    for (const name of this.#budgets.keys()) if (!live.has(name)) this.#budgets.delete(name);
    for (const guard of this.#guards) if (guard !== overload) guard.stop();
    this.#guards.clear();
    if (overload) {
      overload.start();
      this.#guards.add(overload);
    }
  }

  readonly #guards = new Set<OverloadGuard>();

  async close(): Promise<void> {
    for (const guard of this.#guards) guard.stop();
    const stores = [...this.#stores.values()].map((h) => h.store);
    this.#stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }
}

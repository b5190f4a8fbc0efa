// Rate-limit buckets in this process: a Map from key to GCRA TAT. An entry whose TAT has passed is a full bucket,
// the same as no entry, so expiry is just deleting those (a sweep on a timer). The Map is bounded: at maxKeys the
// least recently used key is evicted (that key starts over with a full bucket, so eviction errs on the side of
// allowing; `evicted` counts it). A key touched by a take moves to the back of the Map's order, which makes the
// first key the least recently used one.
import { gcra } from './gcra.ts';
import { emissionIntervalMs, type Rate } from './rate.ts';
import type { RateLimitDecision, RateLimitStore } from './store.ts';

export interface LocalStoreOptions {
  /** Most keys kept; the least recently used is evicted beyond it. Default 100 000. */
  maxKeys?: number;
  /** Time between sweeps of full buckets, ms; 0 disables the timer (call sweep() yourself). Default 10 000. */
  sweepIntervalMs?: number;
  /** Clock in ms; injectable for tests. Default performance.now. */
  now?: () => number;
}

/**
 * @example
 * const store = new LocalRateLimitStore({ maxKeys: 100_000 });
 * const d = store.take(`users-api|ip|${clientIp}`, parseRate('100/s')!, 50);
 * if (!d.allowed) reply429(d);
 */
export class LocalRateLimitStore implements RateLimitStore {
  readonly #tats = new Map<string, number>();
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout | undefined;
  /** Live keys evicted because the store was full, for a metric. */
  evicted = 0;

  constructor(options: LocalStoreOptions = {}) {
    this.#maxKeys = Math.max(1, options.maxKeys ?? 100_000);
    this.#now = options.now ?? performance.now.bind(performance);
    const every = options.sweepIntervalMs ?? 10_000;
    if (every > 0) {
      this.#timer = setInterval(() => this.sweep(), every);
      this.#timer.unref();
    }
  }

  get size(): number {
    return this.#tats.size;
  }

  take(key: string, rate: Rate, burst: number, cost = 1): RateLimitDecision {
    return this.takeByInterval(key, emissionIntervalMs(rate), burst, cost);
  }

  /** take() with the rate given as its emission interval (ms per request), as the cluster IPC sends it. */
  takeByInterval(key: string, intervalMs: number, burst: number, cost = 1): RateLimitDecision {
    const now = this.#now();
    const tats = this.#tats;
    const stored = tats.get(key);
    const out = gcra(stored ?? now, now, intervalMs, burst, cost);
    if (out.allowed) {
      if (stored !== undefined) tats.delete(key);
      else if (tats.size >= this.#maxKeys) this.#evictOne(now);
      tats.set(key, out.tat);
    }
    return { allowed: out.allowed, remaining: out.remaining, resetMs: out.resetMs, retryAfterMs: out.retryAfterMs };
  }

  /** Deletes every full bucket (TAT at or before now). Returns how many were deleted. */
  sweep(now = this.#now()): number {
    let removed = 0;
    for (const [key, tat] of this.#tats) {
      if (tat <= now) {
        this.#tats.delete(key);
        removed++;
      }
    }
    return removed;
  }

  #evictOne(now: number): void {
    const first = this.#tats.entries().next();
    if (first.done) return;
    const [key, tat] = first.value;
    this.#tats.delete(key);
    if (tat > now) this.evicted++;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#tats.clear();
  }
}

// The contract every rate-limit store implements: in process (local-store.ts), in the cluster primary over IPC
// (cluster-store.ts) and in Redis (redis-store.ts). store-cases.ts runs one suite against each of them.
import type { Rate } from './rate.ts';

export interface RateLimitDecision {
  allowed: boolean;
  /** Requests that would still pass right now (the RateLimit field's r). */
  remaining: number;
  /** ms until the bucket is full again (the RateLimit field's t). */
  resetMs: number;
  /** ms until a denied request would pass (Retry-After); 0 when allowed. */
  retryAfterMs: number;
  /** true when the store could not be asked and the failure mode decided (fail open or closed). */
  degraded?: boolean;
}

/** What to do when a shared store (Redis, the cluster primary) does not answer. */
export type FailureMode = 'open' | 'closed';

export type { Outage as StoreOutage } from '../outage.ts';

export interface RateLimitStore {
  /**
   * Takes `cost` (default 1) from the bucket `key` that refills at `rate` and holds at most `burst`.
   * The local store answers synchronously; shared stores return a promise that never rejects (a failure is
   * decided by the failure mode and marked `degraded`).
   */
  take(key: string, rate: Rate, burst: number, cost?: number): RateLimitDecision | Promise<RateLimitDecision>;
  close(): Promise<void>;
}

/** The decision a failure mode makes for a request the store could not decide. */
export function degradedDecision(mode: FailureMode, rate: Rate): RateLimitDecision {
  return mode === 'open'
    ? { allowed: true, remaining: 0, resetMs: 0, retryAfterMs: 0, degraded: true }
    : { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: Math.max(1000, Math.ceil(rate.periodMs / rate.count)), degraded: true };
}

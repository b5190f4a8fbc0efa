// The Generic Cell Rate Algorithm (ITU-T I.371; the "virtual scheduling" form), the rate limiter of redis-cell and
// Envoy's local limiter in spirit. A bucket is a single number, its theoretical arrival time (TAT): the time at
// which the bucket would be full again. A request of `cost` moves TAT forward by cost × T (T = period / count);
// it is allowed if the new TAT is at most τ = burst × T ahead of now. So `burst` requests pass at once from a full
// bucket, then one every T. No timers, no refill loop; a TAT at or before now is the same as no entry at all.

/** What one take decided; `tat` is the value to store (unchanged when denied). */
export interface GcraOutcome {
  allowed: boolean;
  /** Requests of cost 1 that would still pass right now, after this one. */
  remaining: number;
  /** ms until the bucket is full again (every request of the burst available). */
  resetMs: number;
  /** ms until this request would be allowed; 0 when allowed. */
  retryAfterMs: number;
  tat: number;
}

/** Tolerance so that float rounding (T = 1000 / 3) does not lose a whole request when flooring. */
const EPSILON = 1e-9;
/**
 * Tolerance for rounding times up: (now + 1000) - now is not exactly 1000 in floating point once now is large,
 * and a millisecond too many would turn "full again in 1 s" into 2 s in the RateLimit field.
 */
const CEIL_SLACK = 1e-6;

function ceilMs(ms: number): number {
  return Math.ceil(ms - CEIL_SLACK);
}

/**
 * One GCRA decision. Pure: the caller reads the stored TAT (or `now` for a new key) and stores `outcome.tat`.
 * `cost` larger than `burst` is never allowed.
 *
 * @example
 * const out = gcra(stored ?? now, now, 1000 / 100, 50); // 100/s, burst 50
 * if (out.allowed) store(key, out.tat);
 */
export function gcra(tat: number, now: number, intervalMs: number, burst: number, cost = 1): GcraOutcome {
  const tau = intervalMs * burst;
  const base = tat > now ? tat : now;
  const newTat = base + cost * intervalMs;
  const ahead = newTat - now;
  if (ahead > tau + EPSILON) {
    return {
      allowed: false,
      remaining: Math.max(0, Math.floor((tau - (base - now)) / intervalMs + EPSILON)),
      resetMs: ceilMs(base - now),
      retryAfterMs: ceilMs(ahead - tau),
      tat: base,
    };
  }
  return {
    allowed: true,
    remaining: Math.max(0, Math.floor((tau - ahead) / intervalMs + EPSILON)),
    resetMs: ceilMs(ahead),
    retryAfterMs: 0,
    tat: newTat,
  };
}

// Exponential backoff with full jitter (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
// the n-th retry waits a uniformly random time in [0, min(max, base × 2^n)). Full jitter spreads the retries of
// many clients that failed together, so they do not come back in synchronized waves.

export interface BackoffOptions {
  /** Upper bound of the first retry's delay, ms. Default 25 (Envoy's base_interval). */
  baseMs?: number;
  /** Cap on the delay bound, ms. Default 10 × baseMs (Envoy's default max_interval). */
  maxMs?: number;
  /** Uniform random in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

/** A function from the retry number (0 for the first retry) to the delay before it, in ms. */
export type Backoff = (retry: number) => number;

/**
 * @example
 * const backoff = exponentialBackoff({ baseMs: 25, maxMs: 250 });
 * setTimeout(retry, backoff(attemptsSoFar - 1));
 */
export function exponentialBackoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseMs ?? 25;
  const max = options.maxMs ?? base * 10;
  const random = options.random ?? Math.random;
  if (!(base >= 0) || !(max >= base)) throw new RangeError(`backoff needs 0 <= baseMs <= maxMs, got ${base} and ${max}`);
  return function backoff(retry) {
    // 2^retry overflows to Infinity for huge retry numbers, and Math.min caps it: no special case needed.
    const bound = Math.min(max, base * 2 ** Math.max(0, retry));
    return Math.floor(random() * bound);
  };
}

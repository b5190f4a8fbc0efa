// A retry budget, as Envoy's (cluster retry_budget): retries in flight may be at most `ratio` of the requests in
// flight, with a floor of `minRetryConcurrency` so a quiet upstream can still be retried. When an upstream fails
// wholesale, every request wants a retry; the budget caps the extra load at a share of the real load instead of
// multiplying it by the attempt count (a retry storm). One budget per upstream, kept in the long-lived registry.

export interface RetryBudgetOptions {
  /** Retries in flight allowed per request in flight, in [0, 1]. Default 0.2 (Envoy's 20 %). */
  ratio?: number;
  /** Retries in flight always allowed, whatever the load. Default 3 (Envoy's min_retry_concurrency). */
  minRetryConcurrency?: number;
}

/**
 * Counts requests and retries in flight and says whether one more retry fits.
 *
 * @example
 * const budget = new RetryBudget({ ratio: 0.2, minRetryConcurrency: 3 });
 * budget.requestStarted();             // when the exchange starts
 * if (wantRetry && budget.tryAcquireRetry()) { retry(); ... budget.releaseRetry(); } // when that retry ends
 * budget.requestFinished();            // when the exchange ends
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #min: number;
  #requests = 0;
  #retries = 0;
  /** Retries refused since creation, for a metric. */
  refused = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const ratio = options.ratio ?? 0.2;
    if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`retry budget ratio must be in [0, 1], got ${ratio}`);
    this.#ratio = ratio;
    this.#min = Math.max(0, options.minRetryConcurrency ?? 3);
  }

  get activeRequests(): number {
    return this.#requests;
  }

  get activeRetries(): number {
    return this.#retries;
  }

  requestStarted(): void {
    this.#requests++;
  }

  requestFinished(): void {
    if (this.#requests > 0) this.#requests--;
  }

  /** Takes a retry slot if the budget allows one; release it with releaseRetry() when that attempt ends. */
  tryAcquireRetry(): boolean {
    if (this.#retries < this.#min || this.#retries < this.#ratio * this.#requests) {
      this.#retries++;
      return true;
    }
    this.refused++;
    return false;
  }

  releaseRetry(): void {
    if (this.#retries > 0) this.#retries--;
  }
}

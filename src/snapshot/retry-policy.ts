// When a failed upstream attempt may be tried again, compiled from routes[].retries.
import type { RetryConfig } from '../config/schema.ts';
import { exponentialBackoff, type Backoff } from '../resilience/backoff.ts';
import { backoffOptions } from '../resilience/from-config.ts';
import type { RetryBudget } from '../resilience/retry-budget.ts';
import { isIdempotentMethod } from '../resilience/retry-replay.ts';

/**
 * What went wrong with one attempt, in the terms retry conditions use. 'invalid-request': the request could not be
 * built (never retried: the next attempt would be the same request).
 */
export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout' | 'bad-response' | 'invalid-request';

export interface RetryPolicy {
  readonly attempts: number;
  readonly perTryTimeout: number | undefined;
  /** Caps the route's retries in flight at a share of its requests in flight (long-lived: policy-registry.ts). */
  readonly budget: RetryBudget;
  /** The delay before the n-th retry (0 for the first): exponential with full jitter. */
  readonly backoff: Backoff;
  /** Request bodies up to this many bytes are buffered so they can be replayed; 0 never buffers. */
  readonly bufferBody: number;
  /** Whether a transport failure before any response may be retried. */
  onFailure(failure: AttemptFailure): boolean;
  /** Whether a response status should be retried. */
  onStatus(status: number): boolean;
  /**
   * What may be retried for a request with this method: everything the conditions allow for idempotent methods
   * (RFC 9110 §9.2.2) or when the route opts in; otherwise only a connect failure, where the request never left.
   * 'none' when not even that is configured.
   */
  forMethod(method: string): 'all' | 'connect-failure' | 'none';
}

export function compileRetryPolicy(config: RetryConfig | undefined, budget: RetryBudget | undefined): RetryPolicy | undefined {
  if (!config || config.attempts === 0 || !budget) return undefined;
  const on = new Set<string | number>(config.on);
  const gatewayError = on.has('gateway-error');
  const any5xx = on.has('5xx');
  const retriesConnectFailure = on.has('connect-failure') || gatewayError || any5xx;
  const nonIdempotent = config.retryNonIdempotent ? 'all' : retriesConnectFailure ? 'connect-failure' : 'none';
  return {
    attempts: config.attempts,
    perTryTimeout: config.perTryTimeout,
    budget,
    backoff: exponentialBackoff(backoffOptions(config.backoff)),
    bufferBody: config.bufferBody,
    onFailure(failure) {
      if (failure === 'connect-failure') return retriesConnectFailure;
      if (failure === 'reset') return on.has('reset') || gatewayError || any5xx;
      if (failure === 'invalid-request') return false;
      // A timeout or a malformed answer is a gateway error (502/504) as the client would see it.
      return gatewayError || any5xx;
    },
    onStatus(status) {
      if (on.has(status)) return true;
      if (any5xx && status >= 500) return true;
      return gatewayError && (status === 502 || status === 503 || status === 504);
    },
    forMethod(method) {
      return isIdempotentMethod(method) ? 'all' : nonIdempotent;
    },
  };
}

// When a failed upstream attempt may be tried again, compiled from routes[].retries.
import type { RetryConfig } from '../config/schema.ts';

/**
 * What went wrong with one attempt, in the terms retry conditions use. 'invalid-request': the request could not be
 * built (never retried: the next attempt would be the same request).
 */
export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout' | 'bad-response' | 'invalid-request';

export interface RetryPolicy {
  readonly attempts: number;
  readonly perTryTimeout: number | undefined;
  /** Whether a transport failure before any response may be retried. */
  onFailure(failure: AttemptFailure): boolean;
  /** Whether a response status should be retried. */
  onStatus(status: number): boolean;
}

export function compileRetryPolicy(config: RetryConfig | undefined): RetryPolicy | undefined {
  if (!config || config.attempts === 0) return undefined;
  const on = new Set<string | number>(config.on);
  const gatewayError = on.has('gateway-error');
  const any5xx = on.has('5xx');
  return {
    attempts: config.attempts,
    perTryTimeout: config.perTryTimeout,
    onFailure(failure) {
      if (failure === 'connect-failure') return on.has('connect-failure') || gatewayError || any5xx;
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
  };
}

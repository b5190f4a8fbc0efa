// Validated config (src/config/resilience-schema.ts, units already in ms) to the options of each policy, so the
// snapshot builder and the registry construct policies in one line and the field names are mapped in one place.
import type {
  AdaptiveConcurrencyConfig,
  CircuitBreakerConfig,
  FaultInjectionConfig,
  OutlierDetectionConfig,
  OverloadConfig,
  RetryExtrasConfig,
} from '../config/resilience-schema.ts';
import type { AdaptiveConcurrencyOptions } from './adaptive-concurrency.ts';
import type { BackoffOptions } from './backoff.ts';
import type { CircuitBreakerOptions } from './circuit-breaker.ts';
import type { FaultInjectionOptions } from './fault-injection.ts';
import type { OutlierDetectionOptions } from './outlier-detection.ts';
import type { OverloadOptions } from './overload.ts';
import type { RetryBudgetOptions } from './retry-budget.ts';

export function circuitBreakerOptions(c: CircuitBreakerConfig): CircuitBreakerOptions {
  return {
    windowMs: c.window,
    buckets: c.buckets,
    minRequests: c.minRequests,
    failureRatePercent: c.failureRatePercent,
    consecutiveFailures: c.consecutiveFailures,
    openMs: c.openDuration,
    maxOpenMs: c.maxOpenDuration,
    halfOpenRequests: c.halfOpenRequests,
  };
}

export function outlierDetectionOptions(c: OutlierDetectionConfig): OutlierDetectionOptions {
  return {
    consecutive5xx: c.consecutive5xx,
    consecutiveGatewayErrors: c.consecutiveGatewayErrors,
    baseEjectionMs: c.baseEjectionTime,
    maxEjectionMs: c.maxEjectionTime,
    maxEjectionPercent: c.maxEjectionPercent,
  };
}

export function adaptiveConcurrencyOptions(c: AdaptiveConcurrencyConfig): AdaptiveConcurrencyOptions {
  return {
    initialLimit: c.initialLimit,
    minLimit: c.minLimit,
    maxLimit: c.maxLimit,
    sampleWindowMs: c.sampleWindow,
    minSamples: c.minSamples,
    percentile: c.percentile / 100,
    bufferPercent: c.bufferPercent,
    smoothing: c.smoothing,
    minRttIntervalMs: c.minRttInterval,
    minRttJitterPercent: c.minRttJitterPercent,
  };
}

export function retryBudgetOptions(c: RetryExtrasConfig['budget']): RetryBudgetOptions {
  return { ratio: c.percent / 100, minRetryConcurrency: c.minRetryConcurrency };
}

export function backoffOptions(c: RetryExtrasConfig['backoff']): BackoffOptions {
  return { baseMs: c.base, maxMs: c.max };
}

export function faultInjectionOptions(c: FaultInjectionConfig): FaultInjectionOptions {
  return {
    delay: c.delay && { ms: c.delay.duration, percent: c.delay.percent },
    abort: c.abort && { status: c.abort.status, percent: c.abort.percent },
  };
}

export function overloadOptions(c: OverloadConfig): OverloadOptions {
  return {
    maxInFlight: c.maxInFlight,
    maxEventLoopDelayMs: c.maxEventLoopDelay,
    maxHeapPercent: c.maxHeapPercent,
    sampleIntervalMs: c.sampleInterval,
  };
}

// One route's rate limit, compiled once per snapshot from its validated config: how to key a request, which
// store holds the buckets, and the response fields. The rate-limit plugin is this plus the 429 answer.
import type { RateLimitConfig } from '../../config/resilience-schema.ts';
import { rateLimitFields, type RateLimitFields } from './headers.ts';
import { compileRateLimitKey, type RateLimitKeyContext, type RateLimitKeyOf, type RateLimitKeySpec } from './key.ts';
import type { Rate } from './rate.ts';
import type { RateLimitDecision, RateLimitStore } from './store.ts';

/**
 * @example
 * const policy = new RateLimitPolicy(route.name, config, config.store === 'redis' ? redisStore : localStore);
 * // in the plugin, per request:
 * const d = policy.take({ clientIp, headers: req.headers, consumer });
 * const decision = d instanceof Promise ? await d : d;
 * const fields = policy.fields(decision);
 * if (!decision.allowed) return send429(res, fields); // x-sluice-error: rate_limited
 */
export class RateLimitPolicy {
  readonly name: string;
  readonly #rate: Rate;
  readonly #burst: number;
  readonly #keyOf: RateLimitKeyOf;
  readonly #store: RateLimitStore;
  readonly #fields: ((d: RateLimitDecision) => RateLimitFields) | undefined;

  constructor(name: string, config: RateLimitConfig, store: RateLimitStore) {
    this.name = name;
    this.#rate = config.rate;
    this.#burst = config.burst;
    this.#keyOf = compileRateLimitKey(name, config.key as RateLimitKeySpec);
    this.#store = store;
    this.#fields = config.headers ? rateLimitFields(name, config.rate) : undefined;
  }

  /** Takes one request (or `cost`) from the request's bucket. Synchronous with the local store. */
  take(ctx: RateLimitKeyContext, cost = 1): RateLimitDecision | Promise<RateLimitDecision> {
    return this.#store.take(this.#keyOf(ctx), this.#rate, this.#burst, cost);
  }

  /**
   * The response fields for a decision: RateLimit-Policy and RateLimit (unless the route turned headers off, or
   * the store could not be asked), and Retry-After on a denial.
   */
  fields(decision: RateLimitDecision): Partial<RateLimitFields> {
    if (this.#fields !== undefined && decision.degraded !== true) return this.#fields(decision);
    if (decision.allowed) return {};
    return { 'retry-after': String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))) };
  }
}

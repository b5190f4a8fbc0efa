// The config of the resilience policies (src/resilience/*), kept beside schema.ts until it is hooked in there:
// each schema is exported on its own with its output type, and the `*Fields` shapes are what schema.ts spreads
// into its upstream, route, health-check and server objects. Like schema.ts, this is the one source of truth:
// types come from it, and the descriptions become the docs.
import { z } from 'zod';
import { duration, size } from './units.ts';

const percent = (what: string) => z.number().min(0).max(100).describe(what);

// ---------------------------------------------------------------- rates ("100/s")

/** A rate as config writes it, parsed: `count` requests per `periodMs`. */
export interface Rate {
  readonly count: number;
  readonly periodMs: number;
}

const RATE_PERIODS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RATE_RE = /^(\d+(?:\.\d+)?)\s*\/\s*(s|m|h|d)$/;

/**
 * Parses "100/s", "6000/m", "10/h" or "1000/d"; undefined when the text is not a rate.
 *
 * @example
 * parseRate('6000/m'); // { count: 6000, periodMs: 60000 }
 */
export function parseRate(text: string): Rate | undefined {
  const m = RATE_RE.exec(text.trim());
  if (!m) return undefined;
  const count = Number(m[1]);
  if (!(count > 0)) return undefined;
  return { count, periodMs: RATE_PERIODS[m[2]!]! };
}

/** A rate in config, normalised to { count, periodMs }. */
export const rate = z
  .string()
  .transform((value, ctx) => {
    const parsed = parseRate(value);
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid rate "${value}": use a count per unit, e.g. 100/s, 6000/m, 10/h or 1000/d` });
      return z.NEVER;
    }
    return parsed;
  })
  .meta({ description: 'A rate: requests per second, minute, hour or day, e.g. 100/s or 6000/m.' });

// ---------------------------------------------------------------- upstream: circuit breaker

export const circuitBreakerSchema = z
  .strictObject({
    scope: z
      .enum(['target', 'upstream', 'both'])
      .default('both')
      .describe('target: one breaker per target (an open one is skipped when picking); upstream: one for the whole upstream (open answers 503 circuit_open); both.'),
    failOn: z
      .enum(['gateway-error', '5xx'])
      .default('gateway-error')
      .describe('What counts as a failure: gateway-error (connect failure, reset, timeout, 502/503/504) or 5xx (any 5xx too).'),
    window: duration.prefault('10s').describe('Length of the sliding window the error rate is measured over.'),
    buckets: z.number().int().min(1).max(100).default(10).describe('Buckets the window slides by.'),
    minRequests: z.number().int().min(1).default(20).describe('Requests the window must hold before the error rate can open the circuit.'),
    failureRatePercent: z.number().gt(0).max(100).default(50).describe('Error rate over the window, in percent, that opens the circuit.'),
    consecutiveFailures: z.number().int().min(0).default(5).describe('Consecutive failures that open the circuit at once (0 disables).'),
    openDuration: duration.prefault('30s').describe('How long an open circuit fails fast before admitting probes.'),
    maxOpenDuration: duration.optional().describe('The open time doubles after each failed probe, up to this (default: openDuration, no growth).'),
    halfOpenRequests: z.number().int().min(1).default(1).describe('Probes admitted at once when half-open; that many successes close the circuit.'),
  })
  .describe('Circuit breaking: fail fast with 503 circuit_open while an upstream (or target) is failing.');
export type CircuitBreakerConfig = z.output<typeof circuitBreakerSchema>;

// ---------------------------------------------------------------- upstream: outlier detection (passive health)

export const outlierDetectionSchema = z
  .strictObject({
    consecutive5xx: z.number().int().min(0).default(5).describe('Consecutive 5xx answers (or gateway errors) that eject a target (0 disables).'),
    consecutiveGatewayErrors: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe('Consecutive gateway errors (connect failure, reset, timeout, 502/503/504) that eject a target (0 disables).'),
    baseEjectionTime: duration.prefault('30s').describe('Ejection time of a first ejection; the n-th lasts n times this.'),
    maxEjectionTime: duration.prefault('5m').describe('Longest ejection.'),
    maxEjectionPercent: percent('Most targets ejected at once, in percent of the upstream (at least one may always be ejected).').default(50),
  })
  .describe('Passive health checking: targets failing live traffic are ejected for a while.');
export type OutlierDetectionConfig = z.output<typeof outlierDetectionSchema>;

// ---------------------------------------------------------------- upstream: adaptive concurrency

export const adaptiveConcurrencySchema = z
  .strictObject({
    initialLimit: z.number().int().min(1).default(20).describe('Concurrency limit before anything is learnt.'),
    minLimit: z.number().int().min(1).default(3).describe('Floor of the limit, and the concurrency at which the no-load latency is measured.'),
    maxLimit: z.number().int().min(1).default(1000).describe('Ceiling of the limit.'),
    sampleWindow: duration.prefault('100ms').describe('Shortest window over which latency samples are summarised.'),
    minSamples: z.number().int().min(1).max(1024).default(10).describe('Samples a window needs before it is used.'),
    percentile: z.number().gt(0).max(100).default(50).describe('Percentile of a window\'s latencies compared with the no-load latency.'),
    bufferPercent: z.number().min(0).default(25).describe('Latency above the no-load latency tolerated without lowering the limit, percent.'),
    smoothing: z.number().gt(0).max(1).default(0.5).describe('Weight of a newly computed limit against the current one.'),
    minRttInterval: duration.prefault('60s').describe('How often the no-load latency is re-measured (limit pinned to minLimit for one window); 0 only when stuck.'),
    minRttJitterPercent: percent('± spread of minRttInterval so instances do not re-measure together.').default(15),
  })
  .refine((c) => c.minLimit <= c.maxLimit && c.initialLimit <= c.maxLimit, 'need minLimit <= initialLimit <= maxLimit')
  .describe('Adaptive concurrency limit: learns the upstream\'s latency at low load and sheds (503 overloaded) when latency rises.');
export type AdaptiveConcurrencyConfig = z.output<typeof adaptiveConcurrencySchema>;

/** Fields schema.ts adds to `upstreams[]`. */
export const upstreamResilienceFields = {
  circuitBreaker: circuitBreakerSchema.optional(),
  outlierDetection: outlierDetectionSchema.optional(),
  adaptiveConcurrency: adaptiveConcurrencySchema.optional(),
  panicThresholdPercent: percent(
    'When fewer than this share of targets are healthy (active checks, outlier detection, open target breakers), health is ignored and every target gets traffic (0 disables).',
  ).default(50),
};

// ---------------------------------------------------------------- upstream: health-check extras

/** Fields schema.ts adds to `upstreams[].healthCheck`. */
export const healthCheckExtraFields = {
  jitterPercent: z
    .number()
    .min(0)
    .max(50)
    .default(10)
    .describe('± random spread of the interval, percent, so checks of many targets do not align.'),
};

// ---------------------------------------------------------------- route: retry extras

export const retryBackoffSchema = z
  .strictObject({
    base: duration.prefault('25ms').describe('Upper bound of the first retry\'s random delay; it doubles for each further retry.'),
    max: duration.prefault('250ms').describe('Cap on the delay bound.'),
  })
  .refine((b) => b.base <= b.max, 'backoff base must not exceed max')
  .describe('Exponential backoff with full jitter between tries.');

export const retryBudgetSchema = z
  .strictObject({
    percent: percent('Retries in flight allowed, in percent of the requests in flight.').default(20),
    minRetryConcurrency: z.number().int().min(0).default(3).describe('Retries in flight always allowed, whatever the load.'),
  })
  .describe('Retry budget: caps retries at a share of the load, so a failing upstream is not hit by a retry storm.');

/** Fields schema.ts adds to `routes[].retries`. */
export const retryExtraFields = {
  backoff: retryBackoffSchema.prefault({}),
  budget: retryBudgetSchema.prefault({}),
  retryNonIdempotent: z
    .boolean()
    .default(false)
    .describe('Also retry POST, PATCH and other non-idempotent methods (RFC 9110 §9.2.2). Only when the upstream deduplicates.'),
  bufferBody: size
    .prefault('64KiB')
    .describe('Request bodies up to this size are buffered so a retry can replay them; larger bodies stream and are never retried (0: never).'),
};
export const retryExtrasSchema = z.strictObject(retryExtraFields);
export type RetryExtrasConfig = z.output<typeof retryExtrasSchema>;

// ---------------------------------------------------------------- route: rate limit (the rate-limit plugin)

const RATE_LIMIT_KEY = z
  .union([z.enum(['client-ip', 'route', 'consumer']), z.string().regex(/^header:[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'use header:NAME')])
  .default('client-ip')
  .describe('Whose bucket: client-ip (through trusted proxies), route (one bucket for all), consumer (the authenticated consumer), header:NAME.');

export const rateLimitSchema = z
  .strictObject({
    rate: rate.describe('Steady rate, e.g. 100/s or 6000/m.'),
    burst: z.number().int().min(1).optional().describe('Requests allowed at once from a full bucket (default: the rate\'s count).'),
    key: RATE_LIMIT_KEY,
    store: z.enum(['local', 'redis']).default('local').describe('local: in Sluice (exact across workers); redis: shared by every instance (server.rateLimit.redis).'),
    failureMode: z
      .enum(['open', 'closed'])
      .default('open')
      .describe('When the redis store (or the cluster primary) cannot answer: open allows the request, closed denies it with 429.'),
    headers: z.boolean().default(true).describe('Send RateLimit-Policy and RateLimit headers (draft-ietf-httpapi-ratelimit-headers) on every response.'),
  })
  .transform((c) => ({ ...c, burst: c.burst ?? Math.max(1, Math.ceil(c.rate.count)) }))
  .describe('GCRA rate limiting: over the limit answers 429 with Retry-After.');
export type RateLimitConfig = z.output<typeof rateLimitSchema>;

export const redisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').default('redis://127.0.0.1:6379').describe('Redis to keep shared buckets in.'),
    keyPrefix: z.string().default('sluice:rl:').describe('Prefix of every bucket key.'),
    commandTimeout: duration.prefault('100ms').describe('A Redis answer slower than this counts as a failure (then failureMode decides).'),
  })
  .describe('The Redis that rate limits with store: redis share.');

/** `server.rateLimit`. */
export const rateLimitStoreSchema = z
  .strictObject({
    redis: redisSchema.optional(),
    maxLocalKeys: z.number().int().min(1).default(100_000).describe('Most buckets the local store keeps; the least recently used is dropped beyond (with --workers > 1, read when Sluice starts).'),
  })
  .describe('Where rate-limit buckets live.');
export type RateLimitStoreConfig = z.output<typeof rateLimitStoreSchema>;

// ---------------------------------------------------------------- route: fault injection

export const faultInjectionSchema = z
  .strictObject({
    delay: z
      .strictObject({
        duration: duration.describe('Added before forwarding.'),
        percent: percent('Share of requests delayed.'),
      })
      .optional()
      .describe('Delay a share of requests.'),
    abort: z
      .strictObject({
        status: z.number().int().min(200).max(599).describe('Status answered instead of forwarding.'),
        percent: percent('Share of requests aborted.'),
      })
      .optional()
      .describe('Answer a share of requests with an error instead of forwarding them.'),
  })
  .refine((f) => f.delay !== undefined || f.abort !== undefined, 'set delay, abort or both')
  .describe('Fault injection for resilience drills: delays and aborts (the delay first).');
export type FaultInjectionConfig = z.output<typeof faultInjectionSchema>;

// ---------------------------------------------------------------- route: mirror

export const mirrorSchema = z
  .strictObject({
    upstream: z.string().describe('Name of the shadow upstream that receives the copies.'),
    percent: percent('Share of requests copied.').default(100),
    maxConcurrent: z.number().int().min(1).default(100).describe('Most copies in flight; beyond it copies are skipped.'),
    timeout: duration.prefault('5s').describe('A copy whose shadow stays silent this long is abandoned.'),
  })
  .describe('Send a copy of requests to a shadow upstream; its answers are discarded and never delay the real request.');
export type MirrorConfig = z.output<typeof mirrorSchema>;

// ---------------------------------------------------------------- route: weighted upstreams (traffic split)

export const weightedUpstreamsSchema = z
  .array(
    z.strictObject({
      name: z.string().describe('Name of an upstream.'),
      weight: z.number().int().min(0).max(10_000).default(1).describe('Relative share of this route\'s traffic (0: none).'),
    }),
  )
  .min(1)
  .refine((list) => list.some((u) => u.weight > 0), 'at least one upstream needs a weight above 0')
  .refine((list) => new Set(list.map((u) => u.name)).size === list.length, 'each upstream may appear once')
  .describe('Split this route across upstreams by weight (a canary: change the weight and reload). Use instead of upstream.');

export const stickyOnSchema = z
  .union([
    z.literal('client-ip'),
    z.strictObject({ header: z.string().min(1).toLowerCase().describe('Stick on the value of this request header.') }),
    z.strictObject({ cookie: z.string().min(1).describe('Stick on the value of this cookie.') }),
  ])
  .describe('Keep each user on one side of the split, by a hash of this key (requests without it split by weight).');

/** Fields schema.ts adds to `routes[]`; `upstream` becomes optional, with exactly one of upstream / upstreams. */
export const routeResilienceFields = {
  upstreams: weightedUpstreamsSchema.optional(),
  stickyOn: stickyOnSchema.optional(),
  faultInjection: faultInjectionSchema.optional(),
  mirror: mirrorSchema.optional(),
};

// ---------------------------------------------------------------- server: overload

export const overloadSchema = z
  .strictObject({
    maxConnections: z.number().int().min(1).optional().describe('Most client connections per listener and process; more are refused (default: no limit).'),
    maxInFlight: z.number().int().min(0).default(0).describe('Most requests in flight per process; more get 503 overloaded (0: no limit).'),
    maxEventLoopDelay: duration.prefault(0).describe('Shed with 503 overloaded while the event loop\'s p99 delay exceeds this (0: off).'),
    maxHeapPercent: z.number().min(0).max(100).default(0).describe('Shed while the used heap exceeds this share of the heap limit, percent (0: off).'),
    sampleInterval: duration.prefault('100ms').describe('How often event-loop delay and heap are measured.'),
  })
  .describe('Protection of Sluice itself: shed load before falling over.');
export type OverloadConfig = z.output<typeof overloadSchema>;

/** Fields schema.ts adds to `server`. */
export const serverResilienceFields = {
  overload: overloadSchema.prefault({}),
  rateLimit: rateLimitStoreSchema.prefault({}),
};

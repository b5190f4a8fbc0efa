// The resilience config schemas: the canonical config's rate-limit entry, defaults in runtime units, friendly
// rejections, a description on every field (the docs come from them), JSON Schema generation, and the mapping
// of validated config onto each policy's options.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import {
  adaptiveConcurrencySchema,
  circuitBreakerSchema,
  faultInjectionSchema,
  healthCheckExtraFields,
  mirrorSchema,
  outlierDetectionSchema,
  overloadSchema,
  rateLimitSchema,
  rateLimitStoreSchema,
  retryExtrasSchema,
  routeResilienceFields,
  serverResilienceFields,
  stickyOnSchema,
  upstreamResilienceFields,
  weightedUpstreamsSchema,
} from '../src/config/resilience-schema.ts';
import { AdaptiveConcurrencyLimiter } from '../src/resilience/adaptive-concurrency.ts';
import { CircuitBreaker } from '../src/resilience/circuit-breaker.ts';
import { compileFaultInjection } from '../src/resilience/fault-injection.ts';
import * as fromConfig from '../src/resilience/from-config.ts';

function issues(schema: z.ZodType, input: unknown): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('rateLimitSchema', () => {
  test('the canonical config\'s entry: { rate: 100/s, burst: 50, key: client-ip }', () => {
    assert.deepEqual(rateLimitSchema.parse({ rate: '100/s', burst: 50, key: 'client-ip' }), {
      rate: { count: 100, periodMs: 1000 },
      burst: 50,
      key: 'client-ip',
      store: 'local',
      failureMode: 'open',
      headers: true,
    });
  });

  test('burst defaults to the rate\'s count; header keys are accepted', () => {
    const parsed = rateLimitSchema.parse({ rate: '6000/m', key: 'header:x-api-key', store: 'redis', failureMode: 'closed' });
    assert.equal(parsed.burst, 6000);
    assert.equal(parsed.key, 'header:x-api-key');
  });

  test('rejects a bad rate, a bad key and a zero burst with a hint', () => {
    assert.match(issues(rateLimitSchema, { rate: '100 per second' }).join(), /invalid rate "100 per second": use a count per unit/);
    assert.match(issues(rateLimitSchema, { rate: '1/s', key: 'cookie:x' }).join(), /key/);
    assert.match(issues(rateLimitSchema, { rate: '1/s', burst: 0 }).join(), /burst/);
  });
});

describe('defaults, in runtime units', () => {
  test('circuit breaker', () => {
    assert.deepEqual(circuitBreakerSchema.parse({}), {
      scope: 'both', failOn: 'gateway-error', window: 10_000, buckets: 10, minRequests: 20, failureRatePercent: 50,
      consecutiveFailures: 5, openDuration: 30_000, halfOpenRequests: 1,
    });
  });

  test('outlier detection', () => {
    assert.deepEqual(outlierDetectionSchema.parse({ baseEjectionTime: '10s' }), {
      consecutive5xx: 5, consecutiveGatewayErrors: 5, baseEjectionTime: 10_000, maxEjectionTime: 300_000, maxEjectionPercent: 50,
    });
  });

  test('retry extras', () => {
    assert.deepEqual(retryExtrasSchema.parse({}), {
      backoff: { base: 25, max: 250 },
      budget: { percent: 20, minRetryConcurrency: 3 },
      retryNonIdempotent: false,
      bufferBody: 65_536,
    });
  });

  test('server overload and rate-limit store', () => {
    assert.deepEqual(overloadSchema.parse({ maxEventLoopDelay: '200ms' }), {
      maxInFlight: 0, maxEventLoopDelay: 200, maxHeapPercent: 0, sampleInterval: 100,
    });
    assert.deepEqual(rateLimitStoreSchema.parse({ redis: {} }), {
      redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'sluice:rl:', commandTimeout: 100 },
      maxLocalKeys: 100_000,
    });
  });

  test('mirror, fault injection, split', () => {
    assert.deepEqual(mirrorSchema.parse({ upstream: 'shadow', percent: 10 }), { upstream: 'shadow', percent: 10, maxConcurrent: 100, timeout: 5000 });
    assert.deepEqual(faultInjectionSchema.parse({ delay: { duration: '2s', percent: 5 } }), { delay: { duration: 2000, percent: 5 } });
    assert.deepEqual(weightedUpstreamsSchema.parse([{ name: 'stable', weight: 95 }, { name: 'canary', weight: 5 }]), [
      { name: 'stable', weight: 95 },
      { name: 'canary', weight: 5 },
    ]);
    assert.deepEqual(stickyOnSchema.parse({ header: 'X-User' }), { header: 'x-user' });
  });
});

describe('rejections', () => {
  const cases: Array<{ desc: string; schema: z.ZodType; input: unknown; message: RegExp }> = [
    { desc: 'fault injection with neither delay nor abort', schema: faultInjectionSchema, input: {}, message: /set delay, abort or both/ },
    { desc: 'a percentage over 100', schema: faultInjectionSchema, input: { abort: { status: 503, percent: 150 } }, message: /percent/ },
    { desc: 'a split with every weight 0', schema: weightedUpstreamsSchema, input: [{ name: 'a', weight: 0 }], message: /weight above 0/ },
    { desc: 'a split naming an upstream twice', schema: weightedUpstreamsSchema, input: [{ name: 'a' }, { name: 'a' }], message: /once/ },
    { desc: 'adaptive minLimit above maxLimit', schema: adaptiveConcurrencySchema, input: { minLimit: 50, maxLimit: 10, initialLimit: 5 }, message: /minLimit/ },
    { desc: 'backoff base above max', schema: retryExtrasSchema, input: { backoff: { base: '1s', max: '10ms' } }, message: /base must not exceed max/ },
    { desc: 'an unknown field', schema: circuitBreakerSchema, input: { treshold: 5 }, message: /treshold/ },
  ];
  for (const c of cases) test(c.desc, () => assert.match(issues(c.schema, c.input).join('\n'), c.message));
});

describe('documentation', () => {
  /** Every property of every object in a JSON Schema, with its path, lacking a description. */
  function undocumented(json: unknown, path = ''): string[] {
    if (typeof json !== 'object' || json === null) return [];
    const node = json as Record<string, unknown>;
    const missing: string[] = [];
    const props = node.properties as Record<string, Record<string, unknown>> | undefined;
    for (const [name, prop] of Object.entries(props ?? {})) {
      const described = typeof prop.description === 'string' || (Array.isArray(prop.anyOf) && prop.description !== undefined);
      if (!described) missing.push(`${path}.${name}`);
      missing.push(...undocumented(prop, `${path}.${name}`));
    }
    for (const key of ['items', 'anyOf', 'oneOf', 'allOf']) {
      const child = node[key];
      if (Array.isArray(child)) child.forEach((c, i) => missing.push(...undocumented(c, `${path}[${i}]`)));
      else if (child) missing.push(...undocumented(child, `${path}[]`));
    }
    return missing;
  }

  const shapes = {
    upstream: z.strictObject(upstreamResilienceFields),
    route: z.strictObject(routeResilienceFields),
    server: z.strictObject(serverResilienceFields),
    healthCheck: z.strictObject(healthCheckExtraFields),
    retries: retryExtrasSchema,
    rateLimit: rateLimitSchema,
  };
  for (const [name, schema] of Object.entries(shapes)) {
    test(`${name}: generates a JSON Schema with a description on every field`, () => {
      const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
      assert.deepEqual(undocumented(json), []);
    });
  }
});

describe('config → policy options', () => {
  test('a circuit breaker built from defaults opens after 5 consecutive failures', () => {
    const breaker = new CircuitBreaker(fromConfig.circuitBreakerOptions(circuitBreakerSchema.parse({})));
    for (let i = 0; i < 5; i++) {
      breaker.tryAcquire();
      breaker.onResult(false);
    }
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAfterSeconds(), 30);
  });

  test('adaptive concurrency: percentile in percent becomes a fraction', () => {
    const options = fromConfig.adaptiveConcurrencyOptions(adaptiveConcurrencySchema.parse({ percentile: 90, initialLimit: 7 }));
    assert.equal(options.percentile, 0.9);
    assert.equal(new AdaptiveConcurrencyLimiter(options).limit, 7);
  });

  test('retry budget, backoff, faults and overload', () => {
    const retries = retryExtrasSchema.parse({ budget: { percent: 25 }, backoff: { base: '10ms', max: '1s' } });
    assert.deepEqual(fromConfig.retryBudgetOptions(retries.budget), { ratio: 0.25, minRetryConcurrency: 3 });
    assert.deepEqual(fromConfig.backoffOptions(retries.backoff), { baseMs: 10, maxMs: 1000 });
    const faults = compileFaultInjection(fromConfig.faultInjectionOptions(faultInjectionSchema.parse({ abort: { status: 503, percent: 100 } })));
    assert.equal(faults!.abortStatus(), 503);
    assert.deepEqual(fromConfig.overloadOptions(overloadSchema.parse({ maxInFlight: 10 })), {
      maxInFlight: 10, maxEventLoopDelayMs: 0, maxHeapPercent: 0, sampleIntervalMs: 100,
    });
    assert.deepEqual(fromConfig.outlierDetectionOptions(outlierDetectionSchema.parse({})), {
      consecutive5xx: 5, consecutiveGatewayErrors: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50,
    });
  });
});

// rate-limit: the GCRA rate limit (src/resilience/rate-limit/) as a plugin. Over the limit: 429 rate_limited with
// Retry-After and the RateLimit fields; allowed: the RateLimit fields go on whatever response the client gets.
// The bucket store comes from the gateway's PolicyRegistry (local, cluster-exact or Redis) and is held while this
// instance lives, so buckets survive reloads. `key: consumer` needs an authentication plugin earlier in the chain.
import type { RateLimitConfig } from '../../../config/resilience-schema.ts';
import { RateLimitPolicy } from '../../../resilience/rate-limit/policy.ts';
import type { RateLimitDecision, RateLimitStore } from '../../../resilience/rate-limit/store.ts';
import type { Next, PluginContext } from '../../api.ts';
import type { Builtin } from '../types.ts';

export const rateLimit = {
  name: 'rate-limit',
  instanceKey: (server) => JSON.stringify(server.rateLimit),
  create(config, env) {
    const { policies, gatewayMetrics, server } = env.services;
    // The policy's name keys its buckets and names it in RateLimit-Policy: the route (or upstream), or "global".
    const name = env.scope.name ?? 'global';
    let store: RateLimitStore | undefined;
    let policy: RateLimitPolicy | undefined;

    const decide = (ctx: PluginContext, next: Next, decision: RateLimitDecision): Promise<void> | void => {
      gatewayMetrics?.countRateLimit(ctx.route, decision.allowed ? 'allowed' : 'limited');
      const fields = policy!.fields(decision) as Record<string, string>;
      if (!decision.allowed) return ctx.fail('rate_limited', fields);
      for (const field in fields) ctx.response.headers.set(field, fields[field]!);
      return next();
    };

    return {
      async init() {
        store = policies.acquireStore(config, server.rateLimit);
        policy = new RateLimitPolicy(name, config, store);
        await policies.ready([store]);
      },
      handle(ctx, next) {
        const decision = policy!.take({ clientIp: ctx.clientAddress, headers: ctx.request.headers, consumer: ctx.consumer?.id });
        // Synchronous with the local store; a promise (that never rejects) with shared ones.
        if (decision instanceof Promise) return decision.then((d) => decide(ctx, next, d));
        return decide(ctx, next, decision);
      },
      async dispose() {
        if (store !== undefined) await policies.releaseStore(store);
      },
    };
  },
} satisfies Builtin<RateLimitConfig>;

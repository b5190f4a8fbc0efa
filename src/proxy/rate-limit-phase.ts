// The rate-limit phase: one take from the request's bucket. Denied: 429 `rate_limited` with Retry-After and the
// RateLimit-Policy / RateLimit fields. Allowed: those fields go on the response, whoever produces it. Kept
// self-contained (a policy and a request in, a verdict out) so it moves under the plugin API unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimitPolicy } from '../resilience/rate-limit/policy.ts';
import type { RateLimitDecision } from '../resilience/rate-limit/store.ts';
import { sendError } from './send-error.ts';

export interface RateLimitedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  requestIdHeader: string;
  /** The client address through trusted proxies: the bucket key of `key: client-ip`. */
  clientIp: string;
  /** Fields for the response; the phase sets the RateLimit ones here when the request is allowed. */
  responseHeaders: Record<string, string> | undefined;
}

/**
 * true: go on; false: answered 429. Synchronous with the local store; a promise with shared stores (cluster
 * primary, Redis), which never rejects (an unreachable store is decided by the failure mode).
 *
 * @example
 * const verdict = rateLimitPhase(route.rateLimit, request);
 * if (verdict === true) next(); else if (verdict !== false) void verdict.then((ok) => ok && next());
 */
export function rateLimitPhase(policy: RateLimitPolicy, request: RateLimitedRequest): boolean | Promise<boolean> {
  const decision = policy.take({ clientIp: request.clientIp, headers: request.req.headers });
  if (decision instanceof Promise) return decision.then((d) => decide(policy, request, d));
  return decide(policy, request, decision);
}

function decide(policy: RateLimitPolicy, request: RateLimitedRequest, decision: RateLimitDecision): boolean {
  const fields = policy.fields(decision) as Record<string, string>; // a fresh object: ours to keep
  if (decision.allowed) {
    if (fields.ratelimit !== undefined) request.responseHeaders = request.responseHeaders === undefined ? fields : Object.assign(request.responseHeaders, fields);
    return true;
  }
  sendError(request.res, 'rate_limited', request.requestId, { requestIdHeader: request.requestIdHeader, headers: fields });
  return false;
}

// The response fields of a rate limit: RateLimit-Policy and RateLimit as draft-ietf-httpapi-ratelimit-headers-10
// defines them (Structured Field Lists, RFC 9651), and Retry-After (RFC 9110 §10.2.3) on a 429.
//   RateLimit-Policy: "users-api";q=100;w=1     quota q per window w seconds (§4)
//   RateLimit: "users-api";r=42;t=1             r remaining, t seconds until the quota resets (§5)
// The policy value never changes for a route, so it is built once per snapshot; the RateLimit value is built per
// response from the decision.
import type { Rate } from './rate.ts';
import type { RateLimitDecision } from './store.ts';

/** The three field values; `retryAfter` only when the request was denied. */
export interface RateLimitFields {
  'ratelimit-policy': string;
  ratelimit: string;
  'retry-after'?: string;
}

/**
 * The policy item: the configured rate as quota per window. A rate in a period of a minute is "q=6000;w=60".
 * The name is an sf-string; characters outside printable ASCII are replaced, `"` and `\` escaped (RFC 9651 §3.3.3).
 *
 * @example
 * rateLimitPolicyValue('users-api', parseRate('100/s')!); // '"users-api";q=100;w=1'
 */
export function rateLimitPolicyValue(name: string, rate: Rate): string {
  // q is an sf-integer: a fractional rate ("0.5/s") is expressed over a longer window (q=1;w=2).
  let q = rate.count;
  let w = rate.periodMs / 1000;
  if (!Number.isInteger(q)) {
    const scale = 1 / (q - Math.floor(q));
    const factor = Number.isInteger(scale) ? scale : 1000;
    q = Math.round(q * factor);
    w = w * factor;
  }
  return `${sfString(name)};q=${q};w=${Math.max(1, Math.round(w))}`;
}

/**
 * The RateLimit item for one decision. t is whole seconds rounded up, so a client waiting t seconds finds a
 * full quota, never a partial one.
 *
 * @example
 * rateLimitValue('"users-api"', decision); // '"users-api";r=42;t=1'
 */
export function rateLimitValue(quotedName: string, decision: RateLimitDecision): string {
  return `${quotedName};r=${Math.max(0, Math.floor(decision.remaining))};t=${Math.max(0, Math.ceil(decision.resetMs / 1000))}`;
}

/** Retry-After in delay-seconds, rounded up and at least 1 (0 would invite an immediate retry). */
export function retryAfterValue(decision: RateLimitDecision): string {
  return String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000)));
}

/**
 * A policy compiled once (per route, per snapshot) that turns decisions into header values.
 *
 * @example
 * const fields = rateLimitFields('users-api', rate);
 * const headers = fields(decision); // { 'ratelimit-policy': ..., ratelimit: ..., 'retry-after'?: ... }
 */
export function rateLimitFields(name: string, rate: Rate): (decision: RateLimitDecision) => RateLimitFields {
  const policy = rateLimitPolicyValue(name, rate);
  const quoted = sfString(name);
  return function fields(decision) {
    const out: RateLimitFields = { 'ratelimit-policy': policy, ratelimit: rateLimitValue(quoted, decision) };
    if (!decision.allowed) out['retry-after'] = retryAfterValue(decision);
    return out;
  };
}

/** An RFC 9651 §3.3.3 sf-string. */
export function sfString(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, '\\$&')}"`;
}

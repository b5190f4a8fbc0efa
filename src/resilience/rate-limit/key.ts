// Which bucket a request takes from: the client address, a header, the route, or the authenticated consumer.
// Keys are prefixed with the policy (route) name and the kind, so two routes, or an IP and a header that happen
// to be equal, never share a bucket.
import type { IncomingHttpHeaders } from 'node:http';

/** As config writes it: "client-ip", "route", "consumer" or "header:NAME". */
export type RateLimitKeySpec = 'client-ip' | 'route' | 'consumer' | `header:${string}`;

export interface RateLimitKeyContext {
  /** The client address, already resolved through trusted proxies. */
  clientIp: string;
  headers: IncomingHttpHeaders;
  /** Set by an auth plugin; undefined for anonymous requests. */
  consumer?: string;
}

export type RateLimitKeyOf = (ctx: RateLimitKeyContext) => string;

/**
 * Compiles a key spec once per snapshot. A request without the header (or without a consumer) is limited by
 * its client address instead, so omitting the header is no way around the limit.
 *
 * @example
 * const keyOf = compileRateLimitKey('users-api', 'header:x-api-key');
 * keyOf({ clientIp, headers: req.headers }); // 'users-api|h|<key>' or 'users-api|ip|<address>'
 */
export function compileRateLimitKey(policy: string, spec: RateLimitKeySpec): RateLimitKeyOf {
  const ipPrefix = `${policy}|ip|`;
  if (spec === 'client-ip') return (ctx) => ipPrefix + ctx.clientIp;
  if (spec === 'route') {
    const key = `${policy}|route`;
    return () => key;
  }
  if (spec === 'consumer') {
    const prefix = `${policy}|c|`;
    return (ctx) => (ctx.consumer === undefined ? ipPrefix + ctx.clientIp : prefix + ctx.consumer);
  }
  if (spec.startsWith('header:')) {
    const name = spec.slice('header:'.length).toLowerCase();
    if (name === '') throw new RangeError('rate-limit key "header:" needs a header name');
    const prefix = `${policy}|h|`;
    return (ctx) => {
      const value = ctx.headers[name];
      if (value === undefined || value === '') return ipPrefix + ctx.clientIp;
      return prefix + (typeof value === 'string' ? value : value.join(','));
    };
  }
  throw new RangeError(`unknown rate-limit key "${spec as string}": use client-ip, route, consumer or header:NAME`);
}

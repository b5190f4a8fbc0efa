// Every error Sluice itself answers with, declared once: a stable code, the HTTP status, a message safe to show
// a client, and where it comes from. docs/errors.md is generated from this table (scripts/gen-errors-doc.ts).
// Branch on `code`, never on message text.

export type ErrorSource = 'downstream' | 'upstream' | 'gateway';

export interface GatewayErrorSpec {
  readonly status: number;
  readonly message: string;
  readonly source: ErrorSource;
  /** What an operator should look at; shown in docs/errors.md, never to clients. */
  readonly hint: string;
}

export const ERRORS = {
  route_not_found: {
    status: 404, source: 'downstream', message: 'No route matches this request.',
    hint: 'No route matched host, path, method, headers and query. Check the routes with GET /api/v1/config.',
  },
  bad_request: {
    status: 400, source: 'downstream', message: 'The request is malformed.',
    hint: 'The client sent invalid HTTP (bad framing, invalid header, ambiguous Content-Length/Transfer-Encoding). The connection is closed.',
  },
  request_timeout: {
    status: 408, source: 'downstream', message: 'The request was not received in time.',
    hint: 'The client was slower than listeners[].limits.headersTimeout / requestTimeout.',
  },
  payload_too_large: {
    status: 413, source: 'downstream', message: 'The request body is larger than this route accepts.',
    hint: 'Raise routes[].maxBodySize if the body is legitimate.',
  },
  expectation_failed: {
    status: 417, source: 'downstream', message: 'The expectation in the Expect header cannot be met.',
    hint: 'Only "Expect: 100-continue" is supported (RFC 9110 §10.1.1).',
  },
  uri_too_long: {
    status: 414, source: 'downstream', message: 'The request URI is too long.',
    hint: 'Raise listeners[].limits.maxUrlLength if such URLs are legitimate.',
  },
  header_fields_too_large: {
    status: 431, source: 'downstream', message: 'The request headers are too large.',
    hint: 'The request head exceeded listeners[].limits.maxHeaderSize or maxHeaders.',
  },
  upstream_connect_failed: {
    status: 502, source: 'upstream', message: 'The upstream could not be reached.',
    hint: 'Connection refused, reset or unreachable while connecting to the target.',
  },
  upstream_tls_error: {
    status: 502, source: 'upstream', message: 'The TLS handshake with the upstream failed.',
    hint: 'Certificate not trusted or name mismatch: check upstreams[].tls.ca and serverName.',
  },
  upstream_reset: {
    status: 502, source: 'upstream', message: 'The upstream closed the connection before responding.',
    hint: 'The target closed or reset the connection before sending complete response headers.',
  },
  upstream_bad_response: {
    status: 502, source: 'upstream', message: 'The upstream sent an invalid response.',
    hint: 'The target answered with malformed HTTP; it was not passed to the client.',
  },
  no_healthy_upstream: {
    status: 503, source: 'gateway', message: 'No healthy upstream target is available.',
    hint: 'Every target of the upstream is marked unhealthy by health checks.',
  },
  circuit_open: {
    status: 503, source: 'gateway', message: 'The upstream is failing; requests to it are paused.',
    hint: 'The circuit breaker of the upstream (upstreams[].circuitBreaker) is open, or every target\'s is. Retry-After says when it admits probes; see GET /api/v1/upstreams.',
  },
  overloaded: {
    status: 503, source: 'gateway', message: 'The service is overloaded; try again shortly.',
    hint: 'Shed by server.overload (in flight, event-loop delay, heap) or by the upstream\'s adaptiveConcurrency limit, which fell because its latency rose. See GET /api/v1/upstreams.',
  },
  rate_limited: {
    status: 429, source: 'downstream', message: 'Too many requests; slow down.',
    hint: 'The client exceeded the route\'s rate limit (rateLimit or the rate-limit plugin). Retry-After and the RateLimit headers say when to come back.',
  },
  fault_injected: {
    status: 503, source: 'gateway', message: 'This request was failed on purpose by fault injection.',
    hint: 'routes[].faultInjection.abort is set: a resilience drill. The status is the configured one (503 shown here).',
  },
  shutting_down: {
    status: 503, source: 'gateway', message: 'The gateway is shutting down.',
    hint: 'The request arrived while Sluice was draining; clients should retry elsewhere.',
  },
  upstream_connect_timeout: {
    status: 504, source: 'upstream', message: 'The upstream did not accept a connection in time.',
    hint: 'Exceeded upstreams[].connectTimeout.',
  },
  upstream_timeout: {
    status: 504, source: 'upstream', message: 'The upstream did not respond in time.',
    hint: 'Exceeded routes[].responseTimeout (time to response headers) or routes[].timeout (total).',
  },
  unauthorized: {
    status: 401, source: 'downstream', message: 'Authentication is required.',
    hint: 'An authentication plugin (jwt, key-auth, basic-auth) found no valid credentials: missing, unknown, expired or badly signed. WWW-Authenticate says which scheme; the debug log says why, never with the credential.',
  },
  forbidden: {
    status: 403, source: 'downstream', message: 'This request is not allowed.',
    hint: 'Refused by acl (the consumer is not in an allowed group, or in a denied one), ip-restriction (the client address) or jwt (missing scopes: WWW-Authenticate says insufficient_scope).',
  },
  cors_rejected: {
    status: 403, source: 'downstream', message: 'This cross-origin request is not allowed.',
    hint: 'A CORS preflight asked for an origin, method or header the cors plugin does not allow.',
  },
  plugin_error: {
    status: 500, source: 'gateway', message: 'A plugin failed to handle this request.',
    hint: 'A plugin threw (or returned without calling next() or answering). The error log line with this request id names the plugin and has the stack trace; other requests are unaffected.',
  },
  internal_error: {
    status: 500, source: 'gateway', message: 'The gateway failed to handle this request.',
    hint: 'A bug in Sluice: the log line with this request id has the stack trace.',
  },
} as const satisfies Record<string, GatewayErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The JSON body Sluice answers with, pre-serialised parts so the hot path only splices the request id in. */
export function errorBody(code: ErrorCode, requestId: string): string {
  return `{"error":{"code":"${code}","message":"${ERRORS[code].message}","requestId":${JSON.stringify(requestId)}}}`;
}

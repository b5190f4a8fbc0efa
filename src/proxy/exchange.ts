// One client request forwarded upstream, in Pingora's phases: upstream admission (the upstream's breaker and
// adaptive limit), upstream peer (target selection: balancer, health, target breakers), upstream request (dispatch
// through the target's pool), response (stream the answer back with backpressure both ways), and the end, where
// every policy learns the outcome. Failed attempts are retried when the route allows, within its retry budget,
// after a backoff, on another target; failures become catalogue errors at one boundary. This object is the undici
// dispatch handler itself, so a request allocates one of these and nothing else per attempt.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CompiledRoute } from '../snapshot/snapshot.ts';
import type { AttemptResult } from '../upstream/resilience.ts';
import type { UpstreamTarget } from '../upstream/target.ts';
import { selectTarget } from '../upstream/target-selection.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { HOST_VALUE_INDEX } from './forward-headers.ts';
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';
import { applyHeaderOpsToRecord } from '../snapshot/header-ops.ts';
import { sendError } from './send-error.ts';
import { classifyUpstreamError } from './upstream-errors.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import type { AttemptFailure } from '../snapshot/retry-policy.ts';
import type { RequestObservation } from './observe-request.ts';
import type { RequestContext } from '../plugins/context.ts';

type Controller = Dispatcher.DispatchController;

/** undici's Request takes `servername` although its typings leave it out (see UpstreamTarget.servername). */
export interface UpstreamDispatchOptions extends Dispatcher.DispatchOptions {
  servername?: string;
}

/** Abort reasons Sluice gives undici, told apart by code when they come back through onResponseError. */
class ExchangeAbort extends Error {
  readonly code: 'retry' | 'total_timeout' | 'client_gone' | 'payload_too_large' | 'plugin_error';
  constructor(code: ExchangeAbort['code']) {
    super(code);
    this.code = code;
  }
}

export interface ExchangeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  route: CompiledRoute;
  /** The route's upstream, or the one its traffic split chose for this request. */
  upstream: Upstream;
  /** Path and query as sent upstream. */
  target: string;
  headers: string[];
  requestId: string;
  requestIdHeader: string;
  hashKey: string | undefined;
  /** The client address through trusted proxies. */
  clientIp: string;
  /** Fields added to whatever response the client gets (the rate limit's RateLimit fields); usually undefined. */
  responseHeaders: Record<string, string> | undefined;
  /** Released when the exchange ends (the request held it so a reload cannot dispose it mid-flight). */
  snapshot: { release(): void };
  /** The request's logging-phase record and telemetry; undefined when metrics, tracing and logs are all off. */
  observation: RequestObservation | undefined;
  /**
   * Where each trace header's value sits in `headers` (each attempt names its own span), in upstreamTraceHeaders'
   * order; -1 for one a plugin removed. Empty when not traced.
   */
  traceSlots: number[];
  /** The plugin phase's context: its response hooks see the head; undefined on routes without plugins. */
  plugins: RequestContext | undefined;
}

/** The trace slots of a request Sluice does not trace (frozen: nothing may be written into the shared one). */
export const NO_TRACE_SLOTS: number[] = Object.freeze([]) as unknown as number[];

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #x: ExchangeRequest;
  /** A Buffer can be sent again; a stream only once. */
  #body: Readable | Buffer | null = null;
  #upstreamTarget: UpstreamTarget | undefined;
  #controller: Controller | undefined;
  #triesLeft = 0;
  /** A non-idempotent method on a route that does not opt in: only a connect failure (nothing sent) is retried. */
  #connectFailureOnly = false;
  #retriesDone = 0;
  /** This exchange holds a slot of the route's retry budget. */
  #retrySlot = false;
  #retrying = false;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;
  #backoffTimer: NodeJS.Timeout | undefined;
  /** Created on the first pause only (see onResponseData). */
  #onDrain: (() => void) | undefined;
  /** The upstream admitted this exchange (its breaker and limiter): they learn how it ended. */
  #admitted = false;
  /** Counted among the route's requests in flight by its retry budget. */
  #budgeted = false;
  /** What the current (at the end: the last) attempt came to, for breakers, outlier detection and the limiter. */
  #result: AttemptResult;
  #attemptStart = 0;
  /** Time from dispatch to the response head of the answer relayed, ms; -1 without one. */
  #headMs = -1;
  /** Where the body goes when a plugin transforms it (the transform pipes into the response); else the response. */
  #out: Writable | undefined;

  constructor(x: ExchangeRequest) {
    this.#x = x;
    const retry = x.route.retry;
    if (retry !== undefined) {
      const scope = retry.forMethod(x.req.method!);
      this.#triesLeft = scope === 'none' ? 0 : retry.attempts;
      this.#connectFailureOnly = scope === 'connect-failure';
    }
    // One 'close' listener per response: with an observation, its listener runs this one after it.
    if (x.observation !== undefined) x.observation.afterClose = this.#onClientClose;
    else x.res.on('close', this.#onClientClose);
    if (x.route.timeout !== undefined) this.#timer = setTimeout(this.#onTotalTimeout, x.route.timeout);
  }

  /** The request body; set before start(). A stream cannot be replayed, so it turns retries off. */
  setBody(body: Readable | Buffer): void {
    this.#body = body;
    if (!Buffer.isBuffer(body)) this.#triesLeft = 0;
  }

  /** Whether a body of this length would be buffered for retries (see handle-request.ts). */
  buffersBody(contentLength: number | undefined): boolean {
    const retry = this.#x.route.retry;
    if (retry === undefined || this.#triesLeft === 0 || retry.bufferBody <= 0) return false;
    return contentLength === undefined || contentLength <= retry.bufferBody;
  }

  /** Runs the exchange's phases: upstream admission, the mirror copy, then the first attempt. */
  start(): void {
    if (this.#finished) return; // the client left, or the body was refused, before the exchange could start
    if (!this.#admitToUpstream()) return;
    const retry = this.#x.route.retry;
    if (retry !== undefined) {
      retry.budget.requestStarted();
      this.#budgeted = true;
    }
    this.#mirror();
    this.#attempt(undefined);
  }

  /** Upstream admission: a failing upstream fails fast (its breaker), one whose latency rose sheds the excess. */
  #admitToUpstream(): boolean {
    const guard = this.#x.upstream.resilience;
    if (guard === undefined) return true;
    const refused = guard.admit();
    if (refused === undefined) return (this.#admitted = true);
    this.#fail(refused, refused === 'circuit_open' ? { 'retry-after': String(guard.retryAfterSeconds()) } : undefined);
    return false;
  }

  /** A copy for the shadow upstream, fire and forget; a streamed body cannot be copied (see resilience/mirror.ts). */
  #mirror(): void {
    const mirror = this.#x.route.mirror;
    const body = this.#body;
    if (mirror === undefined || !(body === null || Buffer.isBuffer(body))) return;
    mirror.mirror({ method: this.#x.req.method!, path: this.#x.target, headers: this.#x.headers, body });
  }

  /** Aborts the exchange from outside, e.g. when the request body grew past the route's limit. */
  abort(code: 'payload_too_large'): void {
    this.#controller?.abort(new ExchangeAbort(code));
    if (!this.#controller) this.#fail(code);
  }

  #attempt(exclude: UpstreamTarget | undefined): void {
    const { route, upstream, hashKey } = this.#x;
    const target = selectTarget(upstream, hashKey, exclude);
    if (typeof target === 'string') {
      const guard = upstream.resilience;
      return this.#fail(target, target === 'circuit_open' && guard ? { 'retry-after': String(guard.targetRetryAfterSeconds(upstream.targets)) } : undefined);
    }
    this.#upstreamTarget = target;
    target.inFlight++;
    this.#result = undefined;
    const observation = this.#x.observation;
    if (observation !== undefined) this.#observeAttempt(observation, target);
    if (upstream.resilience?.limiter !== undefined) this.#attemptStart = performance.now(); // only the limiter needs latency
    const options: UpstreamDispatchOptions = {
      path: this.#x.target,
      method: this.#x.req.method!,
      headers: this.#headersFor(target),
      body: this.#body,
      headersTimeout: route.retry?.perTryTimeout ?? route.responseTimeout,
      bodyTimeout: route.idleTimeout,
      servername: target.servername,
    };
    try {
      target.pool.dispatch(options, this);
    } catch (err) {
      this.onResponseError(undefined, err as Error);
    }
  }

  /** An attempt starts: its client span, and the traceparent that names it. */
  #observeAttempt(observation: RequestObservation, target: UpstreamTarget): void {
    const attempt = this.#retriesDone;
    if (attempt === 0) {
      observation.upstream = this.#x.upstream.name;
      observation.upstreamStart = performance.now();
    } else if (this.#x.traceSlots.length > 0) {
      const { headers, traceSlots } = this.#x;
      const trace = observation.telemetry.upstreamTraceHeaders(attempt);
      for (let i = 0; i < traceSlots.length; i++) if (traceSlots[i]! >= 0) headers[traceSlots[i]!] = trace[i]![1];
    }
    observation.target = target.id;
    observation.attempts = attempt + 1;
    observation.telemetry.attemptStart(attempt, target.id);
  }

  /** The Host header depends on the target only when the route asks for the target's authority. */
  #headersFor(target: UpstreamTarget): string[] {
    const { headers, route } = this.#x;
    if (route.hostOverride === '' && route.requestHeaders?.host === undefined) headers[HOST_VALUE_INDEX] = target.authority;
    return headers;
  }

  /** Forwards a 103 to clients that can take it, while the final answer is still to come. */
  #relayEarlyHints(headers: IncomingHttpHeaders): void {
    const { req, res } = this.#x;
    // RFC 9110 §15.2: never a 1xx to an HTTP/1.0 client; and none after the final head (an earlier attempt's).
    if (res.headersSent || req.httpVersionMajor !== 1 || req.httpVersionMinor === 0 || headers.link === undefined) return;
    stripHopByHop(headers);
    try {
      res.writeEarlyHints(headers as Record<string, string | string[]>);
    } catch {
      // node:http rejects Link values it cannot parse; hints are optional, the final response is not.
    }
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#finished) controller.abort(new ExchangeAbort('client_gone'));
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode < 200) {
      // RFC 9110 §15.2: interim answers are per hop; 103 Early Hints (RFC 8297) is worth relaying, the rest is not.
      if (statusCode === 103) this.#relayEarlyHints(headers);
      return;
    }
    this.#result = statusCode;
    if (this.#x.upstream.resilience?.limiter !== undefined) this.#headMs = performance.now() - this.#attemptStart;
    if (this.#triesLeft > 0 && !this.#connectFailureOnly && this.#x.route.retry!.onStatus(statusCode) && this.#takeRetrySlot()) {
      this.#retrying = true;
      controller.abort(new ExchangeAbort('retry'));
      return;
    }
    const { res, route, observation } = this.#x;
    if (observation !== undefined) observation.firstByte = performance.now();
    stripHopByHop(headers);
    // RFC 9110 §8.6: no Content-Length in a 204 (304 may keep it: it describes the selected representation).
    if (statusCode === 204) delete headers['content-length'];
    if (route.responseHeaders) applyHeaderOpsToRecord(headers, route.responseHeaders);
    const extra = this.#x.responseHeaders;
    if (extra !== undefined) for (const name in extra) headers[name] = extra[name];
    headers[this.#x.requestIdHeader] ??= this.#x.requestId;
    const plugins = this.#x.plugins;
    if (plugins !== undefined) {
      const status = plugins.onUpstreamResponse(statusCode, headers);
      if (status < 0) return controller.abort(new ExchangeAbort('plugin_error'));
      if (status !== statusCode) statusMessage = undefined;
      statusCode = status;
      this.#out = plugins.responseSink;
    }
    // An upstream may send no reason phrase; node:http then writes the standard one.
    res.writeHead(statusCode, statusMessage || undefined, headers);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const { res, observation } = this.#x;
    if (observation !== undefined) observation.bytesOut += chunk.length;
    const out = this.#out ?? res;
    if (!out.write(chunk)) {
      controller.pause();
      // One listener for the exchange's life, added on the first pause only: most responses never pause, and a
      // listener per pause would allocate a closure (and a once-wrapper) every time the client falls behind.
      if (this.#onDrain === undefined) {
        this.#onDrain = () => this.#controller?.resume();
        out.on('drain', this.#onDrain);
      }
    }
  }

  onResponseEnd(_controller: Controller, trailers: IncomingHttpHeaders): void {
    this.#endAttempt();
    const res = this.#x.res;
    // RFC 9110 §6.5: trailer fields travel end to end. node:http writes them only on a chunked response; on a
    // Content-Length one (or to an HTTP/1.0 client) there is nowhere to put them and they are dropped.
    for (const _ in trailers) {
      relayTrailers(res, trailers);
      break;
    }
    this.#finish();
    // A transformed body ends the response itself, once the transform has flushed (plugins/context.ts).
    if (this.#out !== undefined) this.#out.end();
    else res.end();
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    const failed = this.#upstreamTarget;
    if (err instanceof ExchangeAbort) {
      // A total timeout is the upstream's slowness; the other aborts are ours and say nothing about it.
      if (err.code === 'total_timeout') this.#result ??= 'gateway-error';
      this.#endAttempt(err.code === 'total_timeout' ? 'upstream_timeout' : err.code === 'retry' ? undefined : err.code);
      if (err.code === 'retry') return this.#retry(failed);
      if (err.code === 'client_gone') return this.#finish();
      if (err.code === 'total_timeout') return this.#fail('upstream_timeout');
      return this.#fail(err.code);
    }
    const { code, failure } = classifyUpstreamError(err);
    // A failure after the head keeps the head's status: the attempt was answered. An unbuildable request is ours.
    if (failure !== 'invalid-request') this.#result ??= 'gateway-error';
    this.#endAttempt(code);
    if (this.#triesLeft > 0 && !this.#x.res.headersSent && this.#retries(failure) && this.#takeRetrySlot()) return this.#retry(failed);
    this.#fail(code);
  }

  #retries(failure: AttemptFailure): boolean {
    if (this.#connectFailureOnly && failure !== 'connect-failure') return false;
    return this.#x.route.retry!.onFailure(failure);
  }

  /**
   * The retry budget's word on one more retry: retries in flight stay under a share of the route's requests in
   * flight. The exchange holds at most one slot, from the decision to retry until it ends.
   */
  #takeRetrySlot(): boolean {
    const budget = this.#x.route.retry!.budget;
    if (this.#retrySlot) budget.releaseRetry();
    this.#retrySlot = budget.tryAcquireRetry();
    return this.#retrySlot;
  }

  /** The next try, on another target when there is one, after a backoff with full jitter. */
  #retry(failed: UpstreamTarget | undefined): void {
    this.#retrying = false;
    this.#triesLeft--;
    if (this.#finished) return;
    this.#controller = undefined;
    const delay = this.#x.route.retry!.backoff(this.#retriesDone++);
    if (delay <= 0) return this.#attempt(failed);
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = undefined;
      if (!this.#finished) this.#attempt(failed);
    }, delay);
  }

  /**
   * One attempt ended: its target's load drops, outlier detection and the target's breaker learn the result, and
   * its client span ends (errorType: the catalogue code of a failure).
   */
  #endAttempt(errorType?: string): void {
    const target = this.#upstreamTarget;
    if (target === undefined) return;
    target.inFlight--;
    this.#upstreamTarget = undefined;
    const result = this.#result;
    this.#x.upstream.resilience?.onAttemptEnd(target, result);
    this.#x.observation?.telemetry.attemptEnd(this.#retriesDone, typeof result === 'number' ? result : undefined, errorType);
  }

  #fail(code: ErrorCode, headers?: Record<string, string>): void {
    if (this.#finished) return;
    this.#finish();
    const extra = this.#x.responseHeaders;
    sendError(this.#x.res, code, this.#x.requestId, {
      // A streamed request body may be half read: close rather than let the next request parse its remainder.
      close: this.#body !== null && !Buffer.isBuffer(this.#body),
      requestIdHeader: this.#x.requestIdHeader,
      headers: extra === undefined ? headers : { ...extra, ...headers },
    });
  }

  /** The end of the exchange (the logging phase's moment): every policy that admitted it learns how it went. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#backoffTimer) clearTimeout(this.#backoffTimer);
    const { route, upstream } = this.#x;
    if (this.#admitted) upstream.resilience!.settle(this.#result, this.#headMs);
    if (this.#budgeted) {
      const budget = route.retry!.budget;
      if (this.#retrySlot) budget.releaseRetry();
      budget.requestFinished();
    }
    this.#x.snapshot.release();
  }

  #onTotalTimeout = (): void => {
    this.#timer = undefined;
    if (this.#controller && !this.#controller.aborted) this.#controller.abort(new ExchangeAbort('total_timeout'));
    else this.#fail('upstream_timeout');
  };

  /** The client went away (or the response finished): stop the upstream exchange if it still runs. */
  #onClientClose = (): void => {
    if (this.#finished) return;
    this.#finish();
    if (this.#controller && !this.#controller.aborted && !this.#retrying) this.#controller.abort(new ExchangeAbort('client_gone'));
  };
}

/** RFC 9110 §7.6.1: connection-specific fields, and any the Connection field names, stop at this hop. */
function stripHopByHop(headers: IncomingHttpHeaders): void {
  const named = connectionTokens(headers.connection);
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) delete headers[name];
  }
}

function relayTrailers(res: ServerResponse, trailers: IncomingHttpHeaders): void {
  for (const name in trailers) if (HOP_BY_HOP.has(name)) delete trailers[name];
  try {
    res.addTrailers(trailers as Record<string, string | string[]>);
  } catch {
    // A field node:http will not write; the body is complete without it, so the response still ends.
  }
}

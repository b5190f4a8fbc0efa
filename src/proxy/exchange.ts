// One client request forwarded upstream: pick a target, dispatch through its pool, stream the answer back with
// backpressure both ways, retry when the route allows, and turn failures into catalogue errors. This object is
// the undici dispatch handler itself, so a request allocates one of these and nothing else per attempt.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CompiledRoute } from '../snapshot/snapshot.ts';
import type { UpstreamTarget } from '../upstream/target.ts';
import { HOST_VALUE_INDEX } from './forward-headers.ts';
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';
import { applyHeaderOpsToRecord } from '../snapshot/header-ops.ts';
import { sendError } from './send-error.ts';
import { classifyUpstreamError } from './upstream-errors.ts';
import type { ErrorCode } from '../errors/catalogue.ts';

type Controller = Dispatcher.DispatchController;

/** undici's Request takes `servername` although its typings leave it out (see UpstreamTarget.servername). */
export interface UpstreamDispatchOptions extends Dispatcher.DispatchOptions {
  servername?: string;
}

/** Abort reasons Sluice gives undici, told apart by code when they come back through onResponseError. */
class ExchangeAbort extends Error {
  readonly code: 'retry' | 'total_timeout' | 'client_gone' | 'payload_too_large';
  constructor(code: ExchangeAbort['code']) {
    super(code);
    this.code = code;
  }
}

export interface ExchangeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  route: CompiledRoute;
  /** Path and query as sent upstream. */
  target: string;
  headers: string[];
  requestId: string;
  requestIdHeader: string;
  hashKey: string | undefined;
  /** Released when the exchange ends (the request held it so a reload cannot dispose it mid-flight). */
  snapshot: { release(): void };
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #x: ExchangeRequest;
  #body: Readable | null = null;
  #upstreamTarget: UpstreamTarget | undefined;
  #controller: Controller | undefined;
  #triesLeft: number;
  #retrying = false;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;
  /** Created on the first pause only (see onResponseData). */
  #onDrain: (() => void) | undefined;

  constructor(x: ExchangeRequest) {
    this.#x = x;
    // Request bodies stream unbuffered, so only body-less requests may be tried again (see setBody).
    this.#triesLeft = x.route.retry ? x.route.retry.attempts : 0;
    x.res.on('close', this.#onClientClose);
    if (x.route.timeout !== undefined) this.#timer = setTimeout(this.#onTotalTimeout, x.route.timeout);
  }

  /** The request body stream; set before start(). A body cannot be replayed, so it turns retries off. */
  setBody(body: Readable): void {
    this.#body = body;
    this.#triesLeft = 0;
  }

  start(): void {
    this.#attempt(undefined);
  }

  /** Aborts the exchange from outside, e.g. when the request body grew past the route's limit. */
  abort(code: 'payload_too_large'): void {
    this.#controller?.abort(new ExchangeAbort(code));
    if (!this.#controller) this.#fail(code);
  }

  #attempt(exclude: UpstreamTarget | undefined): void {
    const { route, hashKey } = this.#x;
    const target = route.upstream.pickTarget(exclude || hashKey ? { exclude, hashKey } : undefined);
    if (!target) return this.#fail('no_healthy_upstream');
    this.#upstreamTarget = target;
    target.inFlight++;
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
    const retry = this.#x.route.retry;
    if (this.#triesLeft > 0 && retry?.onStatus(statusCode)) {
      this.#retrying = true;
      controller.abort(new ExchangeAbort('retry'));
      return;
    }
    const { res, route } = this.#x;
    stripHopByHop(headers);
    // RFC 9110 §8.6: no Content-Length in a 204 (304 may keep it: it describes the selected representation).
    if (statusCode === 204) delete headers['content-length'];
    if (route.responseHeaders) applyHeaderOpsToRecord(headers, route.responseHeaders);
    headers[this.#x.requestIdHeader] ??= this.#x.requestId;
    // An upstream may send no reason phrase; node:http then writes the standard one.
    res.writeHead(statusCode, statusMessage || undefined, headers);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    const res = this.#x.res;
    if (!res.write(chunk)) {
      controller.pause();
      // One listener for the exchange's life, added on the first pause only: most responses never pause, and a
      // listener per pause would allocate a closure (and a once-wrapper) every time the client falls behind.
      if (this.#onDrain === undefined) {
        this.#onDrain = () => this.#controller?.resume();
        res.on('drain', this.#onDrain);
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
    res.end();
  }

  onResponseError(_controller: Controller | undefined, err: Error): void {
    const failed = this.#upstreamTarget;
    this.#endAttempt();
    if (err instanceof ExchangeAbort) {
      if (err.code === 'retry') return this.#retry(failed);
      if (err.code === 'client_gone') return this.#finish();
      if (err.code === 'total_timeout') return this.#fail('upstream_timeout');
      return this.#fail(err.code);
    }
    const { code, failure } = classifyUpstreamError(err);
    if (this.#triesLeft > 0 && !this.#x.res.headersSent && this.#x.route.retry?.onFailure(failure)) return this.#retry(failed);
    this.#fail(code);
  }

  #retry(failed: UpstreamTarget | undefined): void {
    this.#retrying = false;
    this.#triesLeft--;
    if (this.#finished) return;
    this.#controller = undefined;
    this.#attempt(failed);
  }

  #endAttempt(): void {
    if (this.#upstreamTarget) {
      this.#upstreamTarget.inFlight--;
      this.#upstreamTarget = undefined;
    }
  }

  #fail(code: ErrorCode): void {
    if (this.#finished) return;
    this.#finish();
    // The request body may be half read: close rather than let the next request parse its remainder.
    sendError(this.#x.res, code, this.#x.requestId, { close: this.#body !== null, requestIdHeader: this.#x.requestIdHeader });
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
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

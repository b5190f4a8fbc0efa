// One client request forwarded upstream: pick a target, dispatch through its pool, stream the answer back with
// backpressure both ways, retry when the route allows, and turn failures into catalogue errors. This object is
// the undici dispatch handler itself, so a request allocates one of these and nothing else per attempt.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CompiledRoute } from '../snapshot/snapshot.ts';
import type { UpstreamTarget } from '../upstream/target.ts';
import { HOP_BY_HOP, connectionTokens } from './hop-by-hop.ts';
import { applyHeaderOpsToRecord } from '../snapshot/header-ops.ts';
import { sendError } from './send-error.ts';
import { classifyUpstreamError } from './upstream-errors.ts';
import type { ErrorCode } from '../errors/catalogue.ts';

type Controller = Dispatcher.DispatchController;

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
  onDone: () => void;
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
    const options: Dispatcher.DispatchOptions = {
      path: this.#x.target,
      method: this.#x.req.method!,
      headers: this.#headersFor(target),
      body: this.#body,
      headersTimeout: route.retry?.perTryTimeout ?? route.responseTimeout,
      bodyTimeout: route.idleTimeout,
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
    if (route.hostOverride !== '') return headers;
    const i = headers.indexOf('host');
    headers[i + 1] = target.authority;
    return headers;
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#finished) controller.abort(new ExchangeAbort('client_gone'));
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode < 200) return; // 1xx interim answers (RFC 9110 §15.2) are not forwarded
    const retry = this.#x.route.retry;
    if (this.#triesLeft > 0 && retry?.onStatus(statusCode)) {
      this.#retrying = true;
      controller.abort(new ExchangeAbort('retry'));
      return;
    }
    const { res, route } = this.#x;
    const named = connectionTokens(headers.connection);
    for (const name in headers) {
      if (HOP_BY_HOP.has(name) || named?.has(name)) delete headers[name];
    }
    if (route.responseHeaders) applyHeaderOpsToRecord(headers, route.responseHeaders);
    headers[this.#x.requestIdHeader] ??= this.#x.requestId;
    res.writeHead(statusCode, statusMessage, headers);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#x.res.write(chunk)) {
      controller.pause();
      this.#x.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#endAttempt();
    this.#finish();
    this.#x.res.end();
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
    this.#x.onDone();
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

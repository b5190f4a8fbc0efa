// One request's plugin context: the PluginContext plugins see, and the plugin phase that runs the chain over it —
// request phase (the onion), the answer a plugin gave (written once the chain has returned, after the response
// hooks of the plugins it passed through), the response phase on the upstream's head, body transforms, and the
// logging phase. Everything a plugin does not ask for (request view, state, logger, tracer) is made on first use.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable, pipeline, type Duplex, type Writable } from 'node:stream';
import type { Logger } from 'pino';
import { ERRORS, type ErrorCode } from '../errors/catalogue.ts';
import type { RequestTelemetry } from '../observability/types.ts';
import { bodyWithLimit } from '../proxy/body-limit.ts';
import { errorCodeOf, sendError } from '../proxy/send-error.ts';
import type { Consumer, PluginFailure, PluginLogEntry, PluginMetrics, PluginRequest, PluginTracer, ResponseHeaders, UpstreamRequest } from './api.ts';
import { dispatch, PluginError, tagged, type ChainState, type PluginChain } from './chain.ts';
import { RequestTracer, RequestView, ResponseHead, ResponseHeaderView, UpstreamRequestView } from './context-views.ts';
import type { ConsumerIndex } from './consumers.ts';
import { writeRawAnswer } from './raw-answer.ts';

/** What the plugin phase needs of the request being proxied (proxy/exchange.ts's ExchangeRequest fits). */
export interface PluginHost {
  readonly req: IncomingMessage;
  /** undefined for an upgrade: answers then go out raw on the client's socket. */
  readonly res: ServerResponse | undefined;
  readonly route: { readonly name: string };
  readonly upstream: { readonly name: string };
  /** Path and query sent upstream. */
  target: string;
  /** The upstream request's fields, flat (see upstream-headers.ts). */
  headers: string[];
  traceSlots: number[];
  readonly requestId: string;
  readonly requestIdHeader: string;
  readonly clientIp: string;
  /** Fields for whatever response the client gets. */
  responseHeaders: Record<string, string> | undefined;
  readonly observation: { readonly telemetry: RequestTelemetry } | undefined;
}

/** Facts about the request the host does not carry. */
export interface RequestFacts {
  readonly listener: string;
  readonly protocol: 'http' | 'https';
  /** The client's path (dot segments resolved) and query without "?". */
  readonly path: string;
  readonly search: string;
  readonly hasBody: boolean;
}

const DEFAULT_READ_LIMIT = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer | undefined;
  /** A catalogue error: written by sendError (its JSON body and x-sluice-error). */
  readonly code: ErrorCode | undefined;
}

/** Thrown out of readBody() once the request has been answered 413; the phase writes that answer. */
class Answered extends Error {}

export class RequestContext implements ChainState {
  readonly chain: PluginChain;
  index = -1;
  passed = false;
  consumer: Consumer | undefined = undefined;
  /** The first stream of the response-body pipeline when a plugin transforms the upstream's body. */
  responseSink: Writable | undefined = undefined;
  readonly #host: PluginHost;
  readonly #facts: RequestFacts;
  readonly #startTime = performance.now();
  #answer: Answer | undefined;
  #request: RequestView | undefined;
  #upstreamRequest: UpstreamRequest | undefined;
  #response: { readonly headers: ResponseHeaders } | undefined;
  #state: Map<string, unknown> | undefined;
  #log: Logger | undefined;
  #tracer: PluginTracer | undefined;
  #transforms: Duplex[] | undefined;
  #maxBody: number | undefined;
  #buffered: Buffer | undefined;

  constructor(chain: PluginChain, host: PluginHost, facts: RequestFacts) {
    this.chain = chain;
    this.#host = host;
    this.#facts = facts;
  }

  // ------------------------------------------------------------------ what plugins see

  get request(): PluginRequest {
    return (this.#request ??= new RequestView(this, this.#host.req, this.#facts));
  }

  get clientAddress(): string {
    return this.#host.clientIp;
  }

  get route(): string {
    return this.#host.route.name;
  }

  get upstream(): string {
    return this.#host.upstream.name;
  }

  get listener(): string {
    return this.#facts.listener;
  }

  get requestId(): string {
    return this.#host.requestId;
  }

  get consumers(): ConsumerIndex {
    return this.chain.consumers;
  }

  get state(): Map<string, unknown> {
    return (this.#state ??= new Map());
  }

  get log(): Logger {
    return (this.#log ??= this.chain.log.child({ route: this.route, requestId: this.requestId }));
  }

  get metrics(): PluginMetrics {
    return this.chain.metrics;
  }

  get tracer(): PluginTracer {
    return (this.#tracer ??= new RequestTracer(this.#host.observation?.telemetry));
  }

  get upstreamRequest(): UpstreamRequest {
    return (this.#upstreamRequest ??= new UpstreamRequestView(this.#host));
  }

  get response(): { readonly headers: ResponseHeaders } {
    return (this.#response ??= { headers: new ResponseHeaderView(this.#host) });
  }

  get answered(): boolean {
    return this.#answer !== undefined;
  }

  respond(status: number, body?: string | Buffer | Uint8Array | object, headers: Record<string, string> = {}): void {
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`respond(): status ${status} is not 200-599`);
    if (this.#answer !== undefined) throw new Error('respond(): the request has already been answered');
    const fields: Record<string, string> = {};
    for (const name in headers) fields[name.toLowerCase()] = headers[name]!;
    let bytes: Buffer | undefined;
    if (typeof body === 'string') bytes = Buffer.from(body);
    else if (body instanceof Uint8Array) bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    else if (body !== undefined && body !== null) {
      bytes = Buffer.from(JSON.stringify(body));
      fields['content-type'] ??= 'application/json';
    }
    if (bytes !== undefined && typeof body === 'string') fields['content-type'] ??= 'text/plain; charset=utf-8';
    this.#answer = { status, headers: fields, body: bytes, code: undefined };
  }

  fail(code: PluginFailure, headers: Record<string, string> = {}): void {
    if (this.#answer !== undefined) throw new Error('fail(): the request has already been answered');
    if (!(code in ERRORS)) throw new RangeError(`fail(): unknown error code "${code}"`);
    const fields: Record<string, string> = {};
    for (const name in headers) fields[name.toLowerCase()] = headers[name]!;
    this.#answer = { status: ERRORS[code].status, headers: fields, body: undefined, code };
  }

  // ------------------------------------------------------------------ bodies

  /** Whether the upstream body differs from the client's stream (transformed, limited, or read whole). */
  get changesBody(): boolean {
    return this.#transforms !== undefined || this.#maxBody !== undefined || this.#buffered !== undefined;
  }

  /** Whether the body's length may change on the way (Content-Length no longer holds). */
  get transformsBody(): boolean {
    return this.#transforms !== undefined;
  }

  transformRequestBody(transform: Duplex): void {
    (this.#transforms ??= []).push(transform);
    // The length changes with the content: the transformed body goes chunked.
    this.upstreamRequest.headers.delete('content-length');
  }

  limitRequestBody(maxBytes: number): void {
    if (!(maxBytes >= 0)) throw new RangeError(`limitBody(): ${maxBytes} is not a size`);
    const declared = this.#host.req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBytes) {
      if (this.#answer === undefined) this.fail('payload_too_large');
      return;
    }
    this.#maxBody = Math.min(this.#maxBody ?? Infinity, maxBytes);
  }

  async readRequestBody(maxBytes = DEFAULT_READ_LIMIT): Promise<Buffer> {
    if (this.#buffered !== undefined) return this.#buffered;
    if (!this.#facts.hasBody) return (this.#buffered = EMPTY);
    const { req, res } = this.#host;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBytes) {
      if (this.#answer === undefined) this.fail('payload_too_large');
      throw new Answered('the request body is larger than readBody() accepts; answered 413');
    }
    // RFC 9110 §10.1.1: a client waiting for 100 Continue sends nothing until it gets one.
    if (res !== undefined && /100-continue/i.test(String(req.headers.expect ?? ''))) res.writeContinue();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        if (this.#answer === undefined) this.fail('payload_too_large');
        throw new Answered('the request body is larger than readBody() accepts; answered 413');
      }
      chunks.push(chunk);
    }
    return (this.#buffered = Buffer.concat(chunks, size));
  }

  /** The body to send upstream in place of the client's stream (called only when changesBody). */
  upstreamBody(body: Readable, onTooLarge: () => void): Readable | Buffer {
    const buffered = this.#buffered;
    if (buffered !== undefined && this.#transforms === undefined) return buffered;
    let out: Readable = buffered !== undefined ? Readable.from([buffered]) : body;
    if (this.#maxBody !== undefined && buffered === undefined) out = bodyWithLimit(out as IncomingMessage, this.#maxBody, onTooLarge);
    const transforms = this.#transforms;
    if (transforms === undefined) return out;
    // A transform that fails destroys the body, so the upstream request fails rather than sending half a body.
    return pipeline([out, ...transforms], () => {}) as unknown as Readable;
  }

  // ------------------------------------------------------------------ the plugin phase

  /**
   * Runs the chain. true: go on upstream; false: answered (by a plugin, or 500 plugin_error), or the client left.
   * A promise only when a plugin did not finish synchronously.
   */
  run(): boolean | Promise<boolean> {
    if (this.chain.hasLogHooks) this.#watchEnd();
    let result: Promise<void> | void;
    try {
      result = dispatch(this, 0);
    } catch (err) {
      return this.#failed(err);
    }
    if (result === undefined) return this.#settle();
    return result.then(
      () => this.#settle(),
      (err: unknown) => this.#failed(err),
    );
  }

  #settle(): boolean {
    if (this.#answer !== undefined) return this.#writeAnswer();
    if (this.#clientGone()) return false;
    if (this.passed) return true;
    const last = this.chain.links[Math.max(0, Math.min(this.index, this.chain.links.length - 1))]!;
    return this.#failed(new PluginError(last.name, new Error('returned without calling next() or answering the request')));
  }

  #failed(err: unknown): false {
    if (err instanceof Answered || (err instanceof PluginError && err.cause instanceof Answered)) {
      if (this.#answer !== undefined) return this.#writeAnswer();
    }
    const failure = err instanceof PluginError ? err : tagged(err, 'unknown');
    const log = this.chain.links.find((l) => l.name === failure.plugin)?.log ?? this.chain.log;
    log.error({ err: failure.cause, plugin: failure.plugin, route: this.route, requestId: this.requestId }, 'plugin failed; answered 500 plugin_error');
    this.#answer = undefined;
    this.#send({ status: 500, headers: {}, body: undefined, code: 'plugin_error' });
    return false;
  }

  #writeAnswer(): false {
    const answer = this.#answer!;
    if (this.#clientGone()) return false;
    const headers: Record<string, string | string[] | undefined> = { ...this.#host.responseHeaders, ...answer.headers };
    let status = answer.status;
    if (this.chain.hasResponseHooks) {
      const response = new ResponseHead(status, headers, false);
      // The plugins the request went through see the answer, innermost first.
      const failed = this.#runResponseHooks(response, Math.min(this.index, this.chain.links.length - 1));
      if (failed) return false;
      status = response.status;
    }
    this.#send({ ...answer, status, headers });
    return false;
  }

  #send(answer: Answer): void {
    const host = this.#host;
    const headers = answer.headers;
    if (host.res === undefined) return writeRawAnswer(host.req.socket as Socket, answer.status, headers, answer.body, answer.code, host.requestId, host.requestIdHeader);
    const res = host.res;
    if (answer.code !== undefined) {
      const flat: Record<string, string> = {};
      for (const name in headers) {
        const value = headers[name];
        if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      sendError(res, answer.code, host.requestId, { requestIdHeader: host.requestIdHeader, headers: flat, status: answer.status });
      return;
    }
    headers[host.requestIdHeader] ??= host.requestId;
    const body = answer.body;
    // RFC 9110 §8.6: no Content-Length in a 204 (nor a 304); every other answer says how long it is.
    if (answer.status === 204 || answer.status === 304) delete headers['content-length'];
    else headers['content-length'] = String(body?.length ?? 0);
    // A body the client is still sending (or waiting to send) would be read as the next request.
    const req = host.req;
    if (this.#facts.hasBody && !req.complete) {
      headers.connection = 'close';
      res.shouldKeepAlive = false;
    }
    res.writeHead(answer.status, headers);
    res.end(body);
  }

  /** Runs onResponse hooks of links[0..last], innermost first; true when one threw (then 500 was answered). */
  #runResponseHooks(response: ResponseHead, last: number): boolean {
    const links = this.chain.links;
    for (let i = last; i >= 0; i--) {
      const link = links[i]!;
      if (link.instance.onResponse === undefined) continue;
      try {
        link.instance.onResponse(this, response);
      } catch (err) {
        if (!response.fromUpstream) this.#failed(tagged(err, link.name));
        else link.log.error({ err, plugin: link.name, route: this.route, requestId: this.requestId }, 'plugin failed on the response; answered 500 plugin_error');
        return true;
      }
    }
    return false;
  }

  /**
   * The response phase on the upstream's head. Returns the status to send, or -1 when a plugin failed (the
   * exchange then answers 500 plugin_error).
   */
  onUpstreamResponse(status: number, headers: Record<string, string | string[] | undefined>): number {
    if (!this.chain.hasResponseHooks) return status;
    const response = new ResponseHead(status, headers, true);
    if (this.#runResponseHooks(response, this.chain.links.length - 1)) return -1;
    const transforms = response.transforms;
    if (transforms !== undefined && this.#host.res !== undefined) {
      delete headers['content-length'];
      const res = this.#host.res;
      this.responseSink = transforms[0];
      pipeline([...transforms, res], (err) => {
        if (err) res.destroy();
      });
    }
    return response.status;
  }

  // ------------------------------------------------------------------ the logging phase

  #clientGone(): boolean {
    const { res, req } = this.#host;
    return res === undefined ? req.socket.destroyed : res.destroyed;
  }

  #watchEnd(): void {
    const { res, req } = this.#host;
    // Registered after the access log's own listener (proxy/observe-request.ts), so hooks run after the log.
    (res ?? req.socket).once('close', () => this.#runLogHooks());
  }

  #runLogHooks(): void {
    const res = this.#host.res;
    const entry: PluginLogEntry = {
      status: res !== undefined && res.headersSent ? res.statusCode : 0,
      durationMs: performance.now() - this.#startTime,
      errorCode: res === undefined ? undefined : errorCodeOf(res),
    };
    for (const link of this.chain.links) {
      if (link.instance.onLog === undefined) continue;
      try {
        link.instance.onLog(this, entry);
      } catch (err) {
        link.log.error({ err, plugin: link.name, route: this.route, requestId: this.requestId }, 'plugin failed in onLog');
      }
    }
  }
}

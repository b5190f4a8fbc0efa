// What the request context hands plugins, made on first use: the client's request (ctx.request), the upstream
// request (ctx.upstreamRequest), the response fields (ctx.response.headers), the response head of onResponse, and
// the tracer over the request's telemetry. All are classes: a request allocates no closures for them.
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { RequestTelemetry } from '../observability/types.ts';
import type { PluginRequest, PluginResponse, PluginTracer, ResponseHeaders, UpstreamRequest } from './api.ts';
import type { PluginHost, RequestContext, RequestFacts } from './context.ts';
import { UpstreamHeaderList } from './upstream-headers.ts';

/** ctx.request: the client's request, with the body helpers bound to the context. */
export class RequestView implements PluginRequest {
  readonly #ctx: RequestContext;
  readonly #req: IncomingMessage;
  readonly #facts: RequestFacts;
  #query: URLSearchParams | undefined;

  constructor(ctx: RequestContext, req: IncomingMessage, facts: RequestFacts) {
    this.#ctx = ctx;
    this.#req = req;
    this.#facts = facts;
  }

  get method(): string {
    return this.#req.method!;
  }

  get url(): string {
    return this.#facts.search === '' ? this.#facts.path : `${this.#facts.path}?${this.#facts.search}`;
  }

  get path(): string {
    return this.#facts.path;
  }

  get search(): string {
    return this.#facts.search;
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.#facts.search));
  }

  get headers(): IncomingMessage['headers'] {
    return this.#req.headers;
  }

  get host(): string | undefined {
    return this.#req.headers.host;
  }

  get protocol(): 'http' | 'https' {
    return this.#facts.protocol;
  }

  get body(): Readable {
    return this.#req;
  }

  get hasBody(): boolean {
    return this.#facts.hasBody;
  }

  readBody(maxBytes?: number): Promise<Buffer> {
    return this.#ctx.readRequestBody(maxBytes);
  }

  transformBody(transform: Duplex): void {
    this.#ctx.transformRequestBody(transform);
  }

  limitBody(maxBytes: number): void {
    this.#ctx.limitRequestBody(maxBytes);
  }
}

/**
 * ctx.upstreamRequest: the path and fields sent upstream. A class, never an object literal with `get path()`: V8
 * puts the AccessorPair of each such object straight into the old generation (Factory::NewAccessorPair), where it
 * holds the request's closures, and through them the whole request, past every young-generation GC. Each request
 * was then promoted and only freed by a full GC: scavenges ten times slower and a Mark-Compact every second or two.
 */
export class UpstreamRequestView implements UpstreamRequest {
  readonly headers: UpstreamHeaderList;
  readonly #host: PluginHost;

  constructor(host: PluginHost) {
    this.#host = host;
    this.headers = new UpstreamHeaderList(host);
  }

  get path(): string {
    return this.#host.target;
  }

  set path(value: string) {
    if (!value.startsWith('/') || /[\s\0]/.test(value)) throw new TypeError(`invalid upstream path "${value}": it starts with "/" and has no spaces`);
    this.#host.target = value;
  }
}

/** ctx.response.headers: set on whatever response the client gets. */
export class ResponseHeaderView implements ResponseHeaders {
  readonly #host: PluginHost;

  constructor(host: PluginHost) {
    this.#host = host;
  }

  set(name: string, value: string): void {
    if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid value for response header "${name}"`);
    (this.#host.responseHeaders ??= {})[name.toLowerCase()] = value;
  }

  get(name: string): string | undefined {
    return this.#host.responseHeaders?.[name.toLowerCase()];
  }

  delete(name: string): void {
    if (this.#host.responseHeaders !== undefined) delete this.#host.responseHeaders[name.toLowerCase()];
  }
}

export class ResponseHead implements PluginResponse {
  status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly fromUpstream: boolean;
  transforms: Duplex[] | undefined;

  constructor(status: number, headers: Record<string, string | string[] | undefined>, fromUpstream: boolean) {
    this.status = status;
    this.headers = headers;
    this.fromUpstream = fromUpstream;
  }

  transformBody(transform: Duplex): void {
    if (!this.fromUpstream) throw new Error('transformBody(): only an upstream response body can be transformed');
    (this.transforms ??= []).push(transform);
  }
}

export class RequestTracer implements PluginTracer {
  readonly #telemetry: RequestTelemetry | undefined;

  constructor(telemetry: RequestTelemetry | undefined) {
    this.#telemetry = telemetry;
  }

  get traceId(): string {
    return this.#telemetry?.traceId ?? '';
  }

  setAttribute(key: string, value: string | number | boolean): void {
    this.#telemetry?.setAttribute(key, value);
  }

  startSpan(name: string, attributes?: Record<string, string | number | boolean>): (attributes?: Record<string, string | number | boolean>) => void {
    const telemetry = this.#telemetry;
    if (telemetry === undefined) return () => {};
    const start = performance.now();
    return (more) => telemetry.addSpan(name, start, performance.now(), more === undefined ? attributes : { ...attributes, ...more });
  }
}

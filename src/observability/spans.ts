// Finished spans, built once per traced request from what the proxy recorded. One object serves both the OTLP
// exporter (it is an OpenTelemetry ReadableSpan) and the embedded trace store, so a span is never copied.
// Built at the end rather than through the SDK's live Span objects: the request's facts are all known then, and
// the SDK's per-span bookkeeping (context, limits, processors) costs several times more (see bench.ts).
import { isIP } from 'node:net';
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type Link, type SpanContext, type SpanStatus } from '@opentelemetry/api';
import { TraceState, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { methodLabel } from './metrics.ts';

// Attribute names are the stable OpenTelemetry HTTP semantic conventions (ATTR_* in @opentelemetry/semantic-
// conventions; a test checks they match), written as literal keys: object literals with literal keys are built
// from a boilerplate, computed keys are not.

const EMPTY_LINKS: Link[] = [];
const EMPTY_EVENTS: TimedEvent[] = [];
const OK_STATUS: SpanStatus = { code: SpanStatusCode.UNSET };

// performance.now() values are relative to timeOrigin; splitting the origin keeps sub-microsecond precision that
// a single epoch-ms double (≈1.7e12) would lose.
const ORIGIN_SECONDS = Math.floor(performance.timeOrigin / 1000);
const ORIGIN_REMAINDER_MS = performance.timeOrigin - ORIGIN_SECONDS * 1000;

/** A performance.now() timestamp as OpenTelemetry's [seconds, nanoseconds] since the epoch. */
export function toHrTime(perfMs: number): HrTime {
  const ms = ORIGIN_REMAINDER_MS + perfMs;
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return [ORIGIN_SECONDS + seconds, nanos];
}

function durationHrTime(ms: number): HrTime {
  const d = Math.max(0, ms);
  const seconds = Math.floor(d / 1000);
  return [seconds, Math.min(999_999_999, Math.round((d - seconds * 1000) * 1e6))];
}

export interface SpanInit {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** True when the parent is the caller's span (came in a traceparent), not one of Sluice's. */
  parentIsRemote: boolean;
  sampled: boolean;
  traceState: string | undefined;
  start: number;
  end: number;
  error: boolean;
  attributes: Attributes;
  resource: Resource;
  scope: InstrumentationScope;
}

/** A finished span: an OpenTelemetry ReadableSpan plus the plain numbers the trace store shows. */
export class SluiceSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links = EMPTY_LINKS;
  readonly events = EMPTY_EVENTS;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  /** Epoch milliseconds (fractional) and duration in milliseconds, for the trace store. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly #context: SpanContext;

  constructor(init: SpanInit) {
    const flags = init.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
    const traceState = init.traceState === undefined ? undefined : new TraceState(init.traceState);
    this.name = init.name;
    this.kind = init.kind;
    this.#context = { traceId: init.traceId, spanId: init.spanId, traceFlags: flags, traceState };
    this.parentSpanContext = init.parentSpanId === undefined
      ? undefined
      : { traceId: init.traceId, spanId: init.parentSpanId, traceFlags: flags, isRemote: init.parentIsRemote };
    this.startTime = toHrTime(init.start);
    this.endTime = toHrTime(init.end);
    this.duration = durationHrTime(init.end - init.start);
    this.status = init.error ? { code: SpanStatusCode.ERROR } : OK_STATUS;
    this.attributes = init.attributes;
    this.resource = init.resource;
    this.instrumentationScope = init.scope;
    this.startMs = performance.timeOrigin + init.start;
    this.durationMs = Math.max(0, init.end - init.start);
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  get traceId(): string {
    return this.#context.traceId;
  }

  get spanId(): string {
    return this.#context.spanId;
  }
}

/** What the server span reads from the request record. */
export interface ServerSpanFacts {
  method: string;
  path: string;
  status: number;
  errorCode: string | undefined;
  clientAddress: string;
  userAgent: string | undefined;
  listener: string;
  route: string | undefined;
  upstream: string | undefined;
  requestId: string;
  bytesIn: number;
  bytesOut: number;
}

/** Semantic conventions: a server span is an error on 5xx, or when no response could be sent (status 0). */
export function serverSpanIsError(status: number): boolean {
  return status >= 500 || status < 100;
}

/** host is the request's Host header (server.address/server.port); extra comes from plugins. */
export function serverSpanAttributes(f: ServerSpanFacts, host: string | undefined, extra: Attributes | undefined): Attributes {
  const method = methodLabel(f.method);
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': f.path,
    'client.address': f.clientAddress,
    'sluice.listener': f.listener,
    'sluice.request_id': f.requestId,
    'http.request.body.size': f.bytesIn,
    'http.response.body.size': f.bytesOut,
  };
  if (method === '_OTHER') attributes['http.request.method_original'] = f.method;
  if (f.status >= 100) attributes['http.response.status_code'] = f.status;
  if (f.route !== undefined) attributes['sluice.route'] = f.route;
  if (f.upstream !== undefined) attributes['sluice.upstream'] = f.upstream;
  if (f.userAgent !== undefined) attributes['user_agent.original'] = f.userAgent;
  if (host !== undefined) {
    const hostPort = splitHostCached(host);
    attributes['server.address'] = hostPort.address;
    if (hostPort.port !== undefined) attributes['server.port'] = hostPort.port;
  }
  if (f.errorCode !== undefined) attributes['sluice.error_code'] = f.errorCode;
  if (serverSpanIsError(f.status)) attributes['error.type'] = f.errorCode ?? (f.status >= 100 ? String(f.status) : '_OTHER');
  if (extra !== undefined) Object.assign(attributes, extra);
  return attributes;
}

export interface AttemptFacts {
  attempt: number;
  method: string;
  target: string;
  status: number | undefined;
  errorType: string | undefined;
  route: string | undefined;
  upstream: string | undefined;
}

/** Semantic conventions: a client span is an error on 4xx/5xx or when it got no response. */
export function clientSpanIsError(status: number | undefined, errorType: string | undefined): boolean {
  return errorType !== undefined || status === undefined || status >= 400;
}

export function clientSpanAttributes(f: AttemptFacts): Attributes {
  const target = parseTarget(f.target);
  const method = methodLabel(f.method);
  const attributes: Attributes = {
    'http.request.method': method,
    'server.address': target.address,
    'sluice.target': f.target,
  };
  if (target.port !== undefined) attributes['server.port'] = target.port;
  if (target.ip) attributes['network.peer.address'] = target.address;
  if (method === '_OTHER') attributes['http.request.method_original'] = f.method;
  if (f.status !== undefined) attributes['http.response.status_code'] = f.status;
  if (f.attempt > 0) attributes['http.request.resend_count'] = f.attempt;
  if (f.route !== undefined) attributes['sluice.route'] = f.route;
  if (f.upstream !== undefined) attributes['sluice.upstream'] = f.upstream;
  if (clientSpanIsError(f.status, f.errorType)) attributes['error.type'] = f.errorType ?? (f.status !== undefined ? String(f.status) : '_OTHER');
  return attributes;
}

interface TargetAddress {
  address: string;
  port: number | undefined;
  ip: boolean;
}

// Targets are few and long-lived; parsing each once keeps URL parsing off the per-attempt path.
const MAX_CACHED_TARGETS = 10_000;
const targets = new Map<string, TargetAddress>();

function parseTarget(target: string): TargetAddress {
  let parsed = targets.get(target);
  if (parsed === undefined) {
    parsed = parseTargetUncached(target);
    if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
    targets.set(target, parsed);
  }
  return parsed;
}

function parseTargetUncached(target: string): TargetAddress {
  if (!target.includes('://')) {
    const hostPort = splitHost(target);
    return { ...hostPort, ip: isIP(hostPort.address) !== 0 };
  }
  try {
    const url = new URL(target);
    const address = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { address, port, ip: isIP(address) !== 0 };
  } catch {
    return { address: target, port: undefined, ip: false };
  }
}

const hosts = new Map<string, { address: string; port: number | undefined }>();

function splitHostCached(host: string): { address: string; port: number | undefined } {
  let parsed = hosts.get(host);
  if (parsed === undefined) {
    parsed = splitHost(host);
    if (hosts.size >= MAX_CACHED_TARGETS) hosts.clear(); // Host is client-chosen: bounded
    hosts.set(host, parsed);
  }
  return parsed;
}

/** "host:port", "[v6]:port" or "host" as address and port. */
function splitHost(host: string): { address: string; port: number | undefined } {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    const port = host.charCodeAt(close + 1) === 58 ? Number(host.slice(close + 2)) : undefined;
    return { address: host.slice(1, close), port: Number.isInteger(port) ? port : undefined };
  }
  const colon = host.lastIndexOf(':');
  if (colon < 0 || host.indexOf(':') !== colon) return { address: host, port: undefined };
  const port = Number(host.slice(colon + 1));
  return { address: host.slice(0, colon), port: Number.isInteger(port) ? port : undefined };
}

// One request's telemetry, from arrival to the logging phase. It reads the observability state current when the
// request arrived (like the proxy reads its snapshot), collects attempt timings, and at end() does everything at
// once, in a batch with the other requests that ended in the same event-loop turn (end-batch.ts): metrics through
// children cached per route, spans built from the record, the access-log line.
import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { AccessLog, isErrorRequest } from './access-log.ts';
import type { EndBatch } from './end-batch.ts';
import { methodLabel, type RouteSlot, type SluiceMetrics } from './metrics.ts';
import type { TracePropagation } from './propagation.ts';
import type { RouteSamplers } from './sampler.ts';
import type { SpanExportPipeline } from './span-export.ts';
import { SluiceSpan, clientSpanAttributes, clientSpanIsError, serverSpanAttributes, serverSpanIsError } from './spans.ts';
import { newSpanId } from './trace-context.ts';
import type { MemoryTraceStore } from './trace-store.ts';
import type { AttributeValue, RequestRecord, RequestTelemetry } from './types.ts';

/** Everything a request needs from the configuration, compiled once per (re)configure. */
export interface TelemetryState {
  readonly metrics: SluiceMetrics | undefined;
  readonly exemplars: boolean;
  readonly tracing: boolean;
  readonly samplers: RouteSamplers;
  readonly propagation: TracePropagation;
  readonly propagateBaggage: boolean;
  readonly store: MemoryTraceStore | undefined;
  readonly slowMs: number;
  readonly exporter: SpanExportPipeline | undefined;
  readonly accessLog: AccessLog | undefined;
  /** Where end() queues a request for the logging phase's batched work. */
  readonly ends: EndBatch;
  /** Trace ids are needed: for spans, or for the access log's trace_id. */
  readonly needIds: boolean;
  /** Nothing at all is on: startRequest returns a shared object that does nothing. */
  readonly noop: boolean;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
}

const NO_HEADERS: Array<[string, string]> = [];
const NO_NAMES: ReadonlySet<string> = new Set();

class AttemptRecord {
  readonly attempt: number;
  readonly spanId: string;
  readonly target: string;
  readonly start: number;
  end = Number.NaN;
  status: number | undefined = undefined;
  errorType: string | undefined = undefined;
  constructor(attempt: number, spanId: string, target: string, start: number) {
    this.attempt = attempt;
    this.spanId = spanId;
    this.target = target;
    this.start = start;
  }
}

interface ExtraSpan {
  name: string;
  start: number;
  end: number;
  attributes: Attributes;
}

/** What startRequest returns when metrics, tracing and the access log are all off. */
export const NOOP_TELEMETRY: RequestTelemetry = Object.freeze({
  traceId: '',
  spanId: '',
  sampled: false,
  traceHeaderNames: NO_NAMES,
  upstreamTraceHeaders: () => NO_HEADERS,
  attemptStart: () => undefined,
  attemptEnd: () => undefined,
  setAttribute: () => undefined,
  addSpan: () => undefined,
  end: () => undefined,
});

export class Telemetry implements RequestTelemetry {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
  readonly #state: TelemetryState;
  readonly #slot: RouteSlot | undefined;
  readonly #routeName: string | undefined;
  readonly #parentSpanId: string | undefined;
  readonly #traceState: string | undefined;
  readonly #baggage: string | undefined;
  readonly #host: string | undefined;
  #attemptSpanIds: string[] | undefined = undefined;
  #attempts: AttemptRecord[] | undefined = undefined;
  #attributes: Attributes | undefined = undefined;
  #extraSpans: ExtraSpan[] | undefined = undefined;
  #ended = false;

  constructor(
    state: TelemetryState,
    slot: RouteSlot | undefined,
    routeName: string | undefined,
    traceId: string,
    spanId: string,
    sampled: boolean,
    parentSpanId: string | undefined,
    traceState: string | undefined,
    baggage: string | undefined,
    host: string | undefined,
  ) {
    this.#state = state;
    this.#slot = slot;
    this.#routeName = routeName;
    this.traceId = traceId;
    this.spanId = spanId;
    this.sampled = sampled;
    this.#parentSpanId = parentSpanId;
    this.#traceState = traceState;
    this.#baggage = baggage;
    this.#host = host;
  }

  /** The client span id of an attempt, minted the first time either the headers or the attempt ask for it. */
  #attemptSpanId(attempt: number): string {
    const ids = (this.#attemptSpanIds ??= []);
    let id = ids[attempt];
    if (id === undefined) {
      id = newSpanId();
      ids[attempt] = id;
    }
    return id;
  }

  get traceHeaderNames(): ReadonlySet<string> {
    return this.#state.tracing ? this.#state.propagation.replaced : NO_NAMES;
  }

  upstreamTraceHeaders(attempt: number): Array<[string, string]> {
    if (!this.#state.tracing) return NO_HEADERS;
    return this.#state.propagation.inject(this.traceId, this.#attemptSpanId(attempt), this.sampled, this.#traceState, this.#baggage);
  }

  attemptStart(attempt: number, target: string): void {
    if (this.#ended) return;
    const spanId = this.#state.tracing ? this.#attemptSpanId(attempt) : '';
    (this.#attempts ??= []).push(new AttemptRecord(attempt, spanId, target, performance.now()));
  }

  attemptEnd(attempt: number, status: number | undefined, errorType: string | undefined): void {
    const attempts = this.#attempts;
    if (attempts === undefined || this.#ended) return;
    for (let i = attempts.length - 1; i >= 0; i--) {
      const a = attempts[i]!;
      if (a.attempt === attempt && Number.isNaN(a.end)) {
        a.end = performance.now();
        a.status = status;
        a.errorType = errorType;
        return;
      }
    }
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (this.#state.tracing) (this.#attributes ??= {})[key] = value;
  }

  addSpan(name: string, startTime: number, endTime: number, attributes: Record<string, AttributeValue> = {}): void {
    if (this.#state.tracing) (this.#extraSpans ??= []).push({ name, start: startTime, end: endTime, attributes });
  }

  end(record: RequestRecord): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#state.ends.add(this, record);
  }

  /** The logging phase's work, run by the EndBatch end() queued this request on. */
  finish(record: RequestRecord): void {
    const state = this.#state;
    const attempts = this.#attempts;
    if (attempts !== undefined) {
      // An attempt the proxy never closed (the client left mid-way) ends with the request.
      for (const a of attempts) if (Number.isNaN(a.end)) a.end = record.endTime;
    }
    let traced = this.sampled;
    if (state.tracing) {
      const store = state.store;
      const durationMs = record.endTime - record.startTime;
      const error = isErrorRequest(record);
      const slow = durationMs >= state.slowMs;
      const keep = store !== undefined && (error || slow || (this.sampled && store.takesOrdinary(this.traceId, record.endTime)));
      const exporter = this.sampled ? state.exporter : undefined;
      if (exporter !== undefined || keep) {
        const spans = this.#buildSpans(record);
        if (exporter !== undefined) for (const span of spans) exporter.submit(span);
        if (keep) {
          traced = true;
          store.add(this.traceId, {
            route: record.route, upstream: record.upstream, method: record.method, path: record.path,
            status: record.status, errorCode: record.errorCode, requestId: record.requestId,
            startMs: spans[0]!.startMs, durationMs, error, slow, sampled: this.sampled,
          }, spans);
        }
      }
    }
    if (this.#slot !== undefined) this.#recordMetrics(record, traced);
    state.accessLog?.write(record, this.traceId, this.spanId, this.sampled);
  }

  #recordMetrics(record: RequestRecord, traced: boolean): void {
    const startSlot = this.#slot!;
    startSlot.inFlight.value--;
    const slot = record.route === this.#routeName ? startSlot : this.#state.metrics!.routeSlot(record.listener, record.route);
    const upstream = slot.upstream(record.upstream);
    const series = upstream.request(record.method, record.status);
    const exemplar = traced && this.#state.exemplars ? this.traceId : undefined;
    series.count.value++;
    series.duration.observe((record.endTime - record.startTime) / 1000, exemplar);
    upstream.received.value += record.bytesIn;
    upstream.sent.value += record.bytesOut;
    if (record.attempts > 1) upstream.retries.value += record.attempts - 1;
    const attempts = this.#attempts;
    if (attempts !== undefined) {
      for (const a of attempts) upstream.attempt(a.status).observe((a.end - a.start) / 1000, exemplar);
    }
  }

  #buildSpans(record: RequestRecord): SluiceSpan[] {
    const state = this.#state;
    const method = methodLabel(record.method);
    const common = {
      traceId: this.traceId,
      sampled: this.sampled,
      traceState: this.#traceState,
      resource: state.resource,
      scope: state.scope,
    };
    const spans = [
      new SluiceSpan({
        ...common,
        name: record.route === undefined ? method : `${method} ${record.route}`,
        kind: SpanKind.SERVER,
        spanId: this.spanId,
        parentSpanId: this.#parentSpanId,
        parentIsRemote: true,
        start: record.startTime,
        end: record.endTime,
        error: serverSpanIsError(record.status),
        attributes: serverSpanAttributes(record, this.#host, this.#attributes),
      }),
    ];
    const attempts = this.#attempts;
    if (attempts !== undefined) {
      for (const a of attempts) {
        spans.push(new SluiceSpan({
          ...common,
          name: record.upstream === undefined ? method : `${method} ${record.upstream}`,
          kind: SpanKind.CLIENT,
          spanId: a.spanId,
          parentSpanId: this.spanId,
          parentIsRemote: false,
          start: a.start,
          end: a.end,
          error: clientSpanIsError(a.status, a.errorType),
          attributes: clientSpanAttributes({
            attempt: a.attempt, method: record.method, target: a.target, status: a.status, errorType: a.errorType,
            route: record.route, upstream: record.upstream,
          }),
        }));
      }
    }
    const extra = this.#extraSpans;
    if (extra !== undefined) {
      for (const x of extra) {
        spans.push(new SluiceSpan({
          ...common, name: x.name, kind: SpanKind.INTERNAL, spanId: newSpanId(), parentSpanId: this.spanId,
          parentIsRemote: false, start: x.start, end: x.end, error: false, attributes: x.attributes,
        }));
      }
    }
    return spans;
  }
}

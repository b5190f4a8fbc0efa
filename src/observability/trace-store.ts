// The embedded trace store behind GET /api/v1/traces: the last N traces in memory, so the dashboard can draw a
// waterfall with no Jaeger installed. Two rings share the budget: ordinary traces (sampled ones) and notable
// ones (errors and slow requests, kept whether sampled or not), so a burst of healthy traffic never pushes the
// interesting traces out. Requests of one trace that pass through Sluice twice (A → Sluice → B → Sluice → C)
// land in the same entry.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { TraceStoreSettings } from '../config/observability-schema.ts';
import { parseDuration } from '../config/units.ts';
import type { SluiceSpan } from './spans.ts';

export interface TraceQuery {
  route?: string;
  /** An exact status (404), a class ("5xx") or "error". */
  status?: string;
  /** Milliseconds. */
  minDuration?: number;
  /** Default 50, at most 1000. */
  limit?: number;
}

export interface TraceSummary {
  traceId: string;
  /** The outermost request of the trace that passed through Sluice. */
  route: string | undefined;
  upstream: string | undefined;
  method: string;
  path: string;
  status: number;
  errorCode: string | undefined;
  requestId: string;
  /** ISO 8601. */
  startTime: string;
  durationMs: number;
  spanCount: number;
  error: boolean;
  slow: boolean;
  sampled: boolean;
}

export interface SpanView {
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: 'server' | 'client' | 'internal';
  /** Epoch milliseconds. */
  startTime: number;
  durationMs: number;
  status: 'unset' | 'error';
  attributes: Record<string, unknown>;
}

export interface TraceDetail extends TraceSummary {
  spans: SpanView[];
}

/** The query side, as the admin API sees it. */
export interface TraceStore {
  query(query?: TraceQuery): TraceSummary[];
  get(traceId: string): TraceDetail | undefined;
  readonly size: number;
}

/** One request's facts for the summary. */
export interface TracedRequest {
  route: string | undefined;
  upstream: string | undefined;
  method: string;
  path: string;
  status: number;
  errorCode: string | undefined;
  requestId: string;
  startMs: number;
  durationMs: number;
  error: boolean;
  slow: boolean;
  sampled: boolean;
}

const RECENT = 0;
const NOTABLE = 1;

class StoredTrace {
  readonly traceId: string;
  request: TracedRequest;
  readonly spans: SluiceSpan[] = [];
  droppedSpans = 0;
  error = false;
  slow = false;
  ring = RECENT;
  slot = -1;
  constructor(traceId: string, request: TracedRequest) {
    this.traceId = traceId;
    this.request = request;
  }
  get notable(): boolean {
    return this.error || this.slow;
  }
}

/** A fixed-size ring of traces; a slot emptied by a move to the other ring is simply skipped. */
class Ring {
  readonly capacity: number;
  readonly #items: Array<StoredTrace | undefined>;
  #next = 0;
  constructor(capacity: number) {
    this.capacity = capacity;
    this.#items = new Array(capacity).fill(undefined);
  }
  /** Stores the trace and returns the one it evicted, if any. */
  push(trace: StoredTrace, ring: number): StoredTrace | undefined {
    const slot = this.#next;
    const evicted = this.#items[slot];
    this.#items[slot] = trace;
    trace.ring = ring;
    trace.slot = slot;
    this.#next = (slot + 1) % this.capacity;
    return evicted;
  }
  remove(trace: StoredTrace): void {
    if (this.#items[trace.slot] === trace) this.#items[trace.slot] = undefined;
  }
  /** Oldest first. */
  *entries(): IterableIterator<StoredTrace> {
    for (let i = 0; i < this.capacity; i++) {
      const trace = this.#items[(this.#next + i) % this.capacity];
      if (trace !== undefined) yield trace;
    }
  }
}

/**
 * The bounded in-memory store.
 *
 * @example
 * const store = new MemoryTraceStore(settings);
 * store.query({ route: 'users-api', status: '5xx', minDuration: 250, limit: 20 });
 * store.get('4bf92f3577b34da6a3ce929d0e0e4736');
 */
export class MemoryTraceStore implements TraceStore {
  readonly #byId = new Map<string, StoredTrace>();
  #recent: Ring;
  #notable: Ring | undefined;
  #maxSpans: number;
  /** Intake of ordinary traces: a token bucket of ordinaryPerSecond tokens a second, one second of burst. */
  #ordinaryRate: number;
  #tokens: number;
  #tokensAt = 0;
  /** Records what ended requests still have queued (end-batch.ts), so a read includes every request that ended. */
  readonly #settle: () => void;

  constructor(settings: TraceStoreSettings, settle: () => void = () => undefined) {
    this.#settle = settle;
    const { recent, notable } = MemoryTraceStore.#rings(settings);
    this.#recent = recent;
    this.#notable = notable;
    this.#maxSpans = settings.maxSpansPerTrace;
    this.#ordinaryRate = settings.ordinaryPerSecond;
    this.#tokens = settings.ordinaryPerSecond;
  }

  /**
   * Whether an ordinary trace ending at `now` (performance.now() ms) is taken: yes while the second's intake
   * lasts, and always for a trace the store holds (a later hop of it). Asked before its spans are built.
   */
  takesOrdinary(traceId: string, now: number): boolean {
    const rate = this.#ordinaryRate;
    if (rate === 0 || this.#byId.has(traceId)) return true;
    this.#tokens = Math.min(rate, this.#tokens + ((now - this.#tokensAt) * rate) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  static #rings(settings: TraceStoreSettings): { recent: Ring; notable: Ring | undefined } {
    const notableCapacity = Math.min(settings.maxTraces - 1, Math.round(settings.maxTraces * settings.reservedForNotable));
    return {
      recent: new Ring(settings.maxTraces - Math.max(0, notableCapacity)),
      notable: notableCapacity > 0 ? new Ring(notableCapacity) : undefined,
    };
  }

  /** New capacities keep the newest traces that fit. */
  reconfigure(settings: TraceStoreSettings): void {
    this.#maxSpans = settings.maxSpansPerTrace;
    this.#ordinaryRate = settings.ordinaryPerSecond;
    this.#tokens = Math.min(this.#tokens, settings.ordinaryPerSecond);
    const old = [...this.#recent.entries(), ...(this.#notable?.entries() ?? [])].sort((a, b) => a.request.startMs - b.request.startMs);
    const { recent, notable } = MemoryTraceStore.#rings(settings);
    this.#recent = recent;
    this.#notable = notable;
    this.#byId.clear();
    for (const trace of old) this.#place(trace);
  }

  get size(): number {
    this.#settle();
    return this.#byId.size;
  }

  /** Adds one request's spans to its trace (creating the entry, or joining an earlier hop of the same trace). */
  add(traceId: string, request: TracedRequest, spans: readonly SluiceSpan[]): void {
    let trace = this.#byId.get(traceId);
    const isNew = trace === undefined;
    if (trace === undefined) {
      trace = new StoredTrace(traceId, request);
    } else if (request.startMs < trace.request.startMs) {
      trace.request = request; // the outer hop started first and describes the trace best
    }
    const room = this.#maxSpans - trace.spans.length;
    for (let i = 0; i < spans.length; i++) {
      if (i < room) trace.spans.push(spans[i]!);
      else trace.droppedSpans++;
    }
    const wasNotable = trace.notable;
    trace.error ||= request.error;
    trace.slow ||= request.slow;
    if (isNew) {
      this.#place(trace);
    } else if (!wasNotable && trace.notable && this.#notable !== undefined) {
      this.#recent.remove(trace);
      this.#place(trace);
    }
  }

  #place(trace: StoredTrace): void {
    const ring = trace.notable && this.#notable !== undefined ? this.#notable : this.#recent;
    const evicted = ring.push(trace, ring === this.#recent ? RECENT : NOTABLE);
    if (evicted !== undefined && this.#byId.get(evicted.traceId) === evicted) this.#byId.delete(evicted.traceId);
    this.#byId.set(trace.traceId, trace);
  }

  query(query: TraceQuery = {}): TraceSummary[] {
    this.#settle();
    const limit = Math.min(1000, Math.max(1, query.limit ?? 50));
    const status = compileStatusFilter(query.status);
    const matches: StoredTrace[] = [];
    for (const trace of this.#byId.values()) {
      const r = trace.request;
      if (query.route !== undefined && r.route !== query.route) continue;
      if (query.minDuration !== undefined && r.durationMs < query.minDuration) continue;
      if (status !== undefined && !status(r.status, trace.error)) continue;
      matches.push(trace);
    }
    matches.sort((a, b) => b.request.startMs - a.request.startMs);
    return matches.slice(0, limit).map(summarize);
  }

  get(traceId: string): TraceDetail | undefined {
    this.#settle();
    const trace = this.#byId.get(traceId.toLowerCase());
    if (trace === undefined) return undefined;
    const spans = [...trace.spans].sort((a, b) => a.startMs - b.startMs).map(viewSpan);
    return { ...summarize(trace), spans };
  }
}

function summarize(trace: StoredTrace): TraceSummary {
  const r = trace.request;
  return {
    traceId: trace.traceId,
    route: r.route,
    upstream: r.upstream,
    method: r.method,
    path: r.path,
    status: r.status,
    errorCode: r.errorCode,
    requestId: r.requestId,
    startTime: new Date(r.startMs).toISOString(),
    durationMs: round3(r.durationMs),
    spanCount: trace.spans.length + trace.droppedSpans,
    error: trace.error,
    slow: trace.slow,
    sampled: r.sampled,
  };
}

function viewSpan(span: SluiceSpan): SpanView {
  return {
    spanId: span.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    kind: span.kind === SpanKind.SERVER ? 'server' : span.kind === SpanKind.CLIENT ? 'client' : 'internal',
    startTime: round3(span.startMs),
    durationMs: round3(span.durationMs),
    status: span.status.code === SpanStatusCode.ERROR ? 'error' : 'unset',
    attributes: { ...span.attributes },
  };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function compileStatusFilter(status: string | undefined): ((status: number, error: boolean) => boolean) | undefined {
  if (status === undefined || status === '') return undefined;
  if (status === 'error') return (_s, error) => error;
  const cls = /^([1-5])xx$/i.exec(status);
  if (cls) {
    const digit = Number(cls[1]);
    return (s) => Math.floor(s / 100) === digit;
  }
  const exact = Number(status);
  return (s) => s === exact;
}

/**
 * Reads `GET /api/v1/traces` query parameters; an error message for the 400 answer when one is malformed.
 *
 * @example
 * parseTraceQuery(new URL(req.url, 'http://x').searchParams) // { route: 'users-api', minDuration: 500, limit: 20 }
 */
export function parseTraceQuery(params: URLSearchParams): TraceQuery | { error: string } {
  const query: TraceQuery = {};
  const route = params.get('route');
  if (route !== null && route !== '') query.route = route;
  const status = params.get('status');
  if (status !== null && status !== '') {
    if (!/^(?:[1-5]\d\d|[1-5]xx|error)$/i.test(status)) return { error: 'status is a code (404), a class (5xx) or "error"' };
    query.status = status.toLowerCase();
  }
  const minDuration = params.get('minDuration');
  if (minDuration !== null && minDuration !== '') {
    const ms = /^\d+(?:\.\d+)?$/.test(minDuration) ? Number(minDuration) : parseDuration(minDuration);
    if (ms === undefined) return { error: 'minDuration is milliseconds or a duration such as 250ms or 1s' };
    query.minDuration = ms;
  }
  const limit = params.get('limit');
  if (limit !== null && limit !== '') {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) return { error: 'limit is a positive integer (at most 1000)' };
    query.limit = Math.min(1000, Number(limit));
  }
  return query;
}

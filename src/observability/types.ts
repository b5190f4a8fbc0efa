// The contract between the proxy and observability: what the proxy records about a request, and what it may ask.
import type { IncomingHttpHeaders } from 'node:http';
import type { ObservabilitySettings, SamplerSettings } from '../config/observability-schema.ts';
import type { CircuitState } from './metrics.ts';
import type { CounterFamily, GaugeFamily, HistogramFamily } from './metric-family.ts';
import type { TraceStore } from './trace-store.ts';

/** Filled by the proxy once per request, in its logging phase (the phase that always runs). */
export interface RequestRecord {
  listener: string;
  route: string | undefined;
  upstream: string | undefined;
  /** The target of the last attempt (its origin, e.g. http://10.0.0.7:3001). */
  target: string | undefined;
  method: string;
  /** The client's path: for logs and traces, never a metric label. */
  path: string;
  /** The status sent to the client; 0 when none was (the client left first). */
  status: number;
  /** The catalogue code when Sluice produced the error (upstream_timeout…). */
  errorCode: string | undefined;
  clientAddress: string;
  requestId: string;
  /** performance.now() at arrival. */
  startTime: number;
  /** performance.now() when the first upstream attempt started. */
  upstreamStart: number | undefined;
  /** performance.now() when the upstream's response head arrived. */
  firstByte: number | undefined;
  /** performance.now() when the response ended (or the request was abandoned). */
  endTime: number;
  bytesIn: number;
  bytesOut: number;
  attempts: number;
  userAgent: string | undefined;
}

export type AttributeValue = string | number | boolean;

/** One per request, created at arrival by Observability.startRequest. */
export interface RequestTelemetry {
  /** Empty when nothing needs ids (tracing, trace store and access log all off). */
  readonly traceId: string;
  /** The server span's id: the one access-log lines carry. */
  readonly spanId: string;
  readonly sampled: boolean;
  /** The client's headers not to copy upstream, because upstreamTraceHeaders writes Sluice's own (empty when off). */
  readonly traceHeaderNames: ReadonlySet<string>;
  /**
   * Headers to set (replacing any the client sent) on the upstream request of this attempt, in the configured
   * formats: traceparent (or b3, X-B3-*) naming the attempt's client span, tracestate and baggage as received. The
   * same names in the same order for every attempt. Empty when tracing is off: the client's own trace headers then
   * pass through untouched.
   */
  upstreamTraceHeaders(attempt: number): Array<[string, string]>;
  /** An upstream attempt (0 = first try) is about to be dispatched to target. */
  attemptStart(attempt: number, target: string): void;
  /** The attempt is over: status when a response head came, errorType (a catalogue code) when it failed. */
  attemptEnd(attempt: number, status: number | undefined, errorType: string | undefined): void;
  /** For plugins: an attribute on the server span (ignored when the request is not traced). */
  setAttribute(key: string, value: AttributeValue): void;
  /** For plugins: a child span of the server span, times from performance.now(). */
  addSpan(name: string, startTime: number, endTime: number, attributes?: Record<string, AttributeValue>): void;
  /**
   * Once, in the logging phase: queues the request, whose metrics, access-log line, spans and trace store entry
   * are recorded with the others that end in the same event-loop turn (end-batch.ts). The record is read then.
   */
  end(record: RequestRecord): void;
}

/** The metrics as the runtime, the admin server and the resilience code see them. */
export interface GatewayMetrics {
  contentType(openMetrics: boolean): string;
  render(openMetrics: boolean): Promise<string>;
  /** This process's metrics as data, for the cluster primary (aggregateMetrics). */
  snapshot(): Promise<unknown[]>;
  recordReload(ok: boolean): void;
  setConfigVersion(version: number): void;
  setReloadCounts(ok: number, failed: number): void;
  setTargetHealth(upstream: string, target: string, healthy: boolean): void;
  setCircuitState(upstream: string, target: string, state: CircuitState): void;
  removeTarget(upstream: string, target: string): void;
  countRateLimit(route: string | undefined, decision: 'allowed' | 'limited', count?: number): void;
  countShed(listener: string, reason: string, count?: number): void;
  /** Exposes a family defined elsewhere (plugins' sluice_plugin_* metrics) with Sluice's own; once per name. */
  registerFamily(family: CounterFamily | GaugeFamily | HistogramFamily): void;
}

export interface Observability {
  /** At arrival, after routing when the route is known (its sampler may differ); undefined for no route. */
  startRequest(headers: IncomingHttpHeaders, listener: string, routeName: string | undefined): RequestTelemetry;
  readonly metrics: GatewayMetrics;
  /** The query side of the embedded trace store (GET /api/v1/traces). */
  readonly traces: TraceStore;
  /** On reload: sampler, access log, export and store settings; counters and stored traces are kept. */
  reconfigure(config: ObservabilityConfig): void;
  /** Flushes exporters and sinks (within a few seconds) and stops their timers. */
  close(): Promise<void>;
}

/**
 * The validated `observability:` section, plus a per-route sampler lookup the runtime builds from its routes
 * (undefined for a route without its own sampler).
 */
export type ObservabilityConfig = ObservabilitySettings & {
  routeSampler?: (routeName: string) => SamplerSettings | undefined;
};

export interface ObservabilityOptions {
  /** service.instance.id of spans and the instance label of Loki streams (default: hostname:pid). */
  instance?: string;
  /** Sluice's version for sluice_build_info and service.version (default: package.json's). */
  version?: string;
  /** Told once when an access-log sink starts failing (with the error) and once when it recovers (undefined). */
  onSinkError?: (sink: string, error: Error | undefined) => void;
  /**
   * Set in a cluster worker: file sinks write `access-w2.log` for `access.log`, one file per worker, because
   * several processes cannot share one file and rotate it.
   */
  workerSlot?: number;
  /** Where the "stdout" sink writes (default process.stdout); for tests. */
  stdout?: import('node:stream').Writable;
}

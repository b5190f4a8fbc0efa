// Observability's front door: one object the runtime creates at start, hands to the proxy (startRequest) and the
// admin server (metrics, traces), reconfigures on reload and closes at shutdown. A leaf: from config/ it takes
// only its own section (types, the access-log field list) and the pure duration parser; nothing of the runtime.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import type { InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { AccessLog } from './access-log.ts';
import { EndBatch } from './end-batch.ts';
import { SluiceMetrics } from './metrics.ts';
import { RouteSamplers } from './sampler.ts';
import { createSinks, type SinkHooks } from './sinks/index.ts';
import { SpanExportPipeline, type SpanOutcome } from './span-export.ts';
import { NOOP_TELEMETRY, Telemetry, type TelemetryState } from './telemetry.ts';
import { TracePropagation } from './propagation.ts';
import { forwardableBaggage, forwardableTracestate, newSpanId, newTraceId } from './trace-context.ts';
import { MemoryTraceStore } from './trace-store.ts';
import type { Observability, ObservabilityConfig, ObservabilityOptions, RequestTelemetry } from './types.ts';

export type { AttributeValue, GatewayMetrics, Observability, ObservabilityConfig, ObservabilityOptions, RequestRecord, RequestTelemetry } from './types.ts';
export type { TraceDetail, TraceQuery, TraceStore, TraceSummary, SpanView } from './trace-store.ts';
export { parseTraceQuery } from './trace-store.ts';
export { mergeTraceDetails, mergeTraceSummaries } from './trace-merge.ts';
export { SluiceMetrics } from './metrics.ts';
export { aggregateMetrics, wantsOpenMetrics, type CircuitState } from './metrics.ts';
export { parseTraceparent, formatTraceparent } from './trace-context.ts';
export { NOOP_TELEMETRY } from './telemetry.ts';

/** A retired exporter or access log (after a reload) is closed this long after, once its requests are done. */
const RETIRE_AFTER_MS = 30_000;
/** close() gives sinks and the exporter this long to flush. */
const CLOSE_BUDGET_MS = 5_000;

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

interface Closable {
  close(budgetMs?: number): Promise<void>;
}

class ObservabilityHub implements Observability {
  readonly metrics: SluiceMetrics;
  readonly traces: MemoryTraceStore;
  readonly #options: ObservabilityOptions;
  readonly #instance: string;
  readonly #version: string;
  readonly #spanOutcome: (outcome: SpanOutcome, spans: number) => void;
  #config: ObservabilityConfig;
  #state: TelemetryState;
  #exporter: SpanExportPipeline | undefined;
  #exporterKey = '';
  #accessLog: AccessLog | undefined;
  #accessLogKey = '';
  #resource: Resource;
  #scope: InstrumentationScope;
  readonly #ends = new EndBatch();
  readonly #retired = new Set<{ resource: Closable; timer: NodeJS.Timeout }>();
  #closed = false;

  constructor(config: ObservabilityConfig, options: ObservabilityOptions) {
    this.#options = options;
    this.#instance = options.instance ?? `${hostname()}:${process.pid}`;
    this.#version = options.version ?? packageVersion();
    const settle = (): void => this.#ends.settle();
    this.metrics = new SluiceMetrics(config.metrics, { version: this.#version, settle });
    this.traces = new MemoryTraceStore(config.traceStore, settle);
    const spanCounters = {
      exported: this.metrics.traceSpans.child('exported'),
      dropped: this.metrics.traceSpans.child('dropped'),
      failed: this.metrics.traceSpans.child('failed'),
    };
    this.#spanOutcome = (outcome, spans) => {
      spanCounters[outcome].value += spans;
    };
    this.#config = config;
    this.#resource = this.#makeResource(config);
    this.#scope = { name: 'sluice', version: this.#version };
    this.#state = this.#compile(config);
  }

  #makeResource(config: ObservabilityConfig): Resource {
    return resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.tracing.serviceName,
      [ATTR_SERVICE_VERSION]: this.#version,
      [ATTR_SERVICE_INSTANCE_ID]: this.#instance,
    });
  }

  #sinkHooks = (sink: string): SinkHooks => {
    const family = this.metrics.logRecords;
    const counters = { written: family.child(sink, 'written'), dropped: family.child(sink, 'dropped'), failed: family.child(sink, 'failed') };
    const onSinkError = this.#options.onSinkError;
    return {
      count: (outcome, lines) => {
        counters[outcome].value += lines;
      },
      onError: onSinkError === undefined ? undefined : (error) => onSinkError(sink, error),
    };
  };

  /** Builds the state requests will read; long-lived parts (exporter, access log) are kept when unchanged. */
  #compile(config: ObservabilityConfig): TelemetryState {
    const tracing = config.tracing.enabled;
    const otlp = tracing ? config.tracing.otlp : undefined;
    const exporterKey = JSON.stringify([otlp, config.tracing.serviceName]);
    if (exporterKey !== this.#exporterKey) {
      if (this.#exporter !== undefined) this.#retire(this.#exporter);
      this.#exporter = otlp === undefined ? undefined : new SpanExportPipeline(otlp, this.#resource, this.#scope, this.#spanOutcome);
      this.#exporterKey = exporterKey;
    }
    const log = config.accessLog.enabled ? config.accessLog : undefined;
    const accessLogKey = JSON.stringify([log, config.tracing.serviceName]);
    if (accessLogKey !== this.#accessLogKey) {
      if (this.#accessLog !== undefined) this.#retire(this.#accessLog);
      this.#accessLog = log === undefined ? undefined : new AccessLog(log, createSinks(log, {
        hooks: this.#sinkHooks,
        resource: this.#resource,
        lokiLabels: { instance: this.#instance },
        stdout: this.#options.stdout,
        workerSlot: this.#options.workerSlot,
      }));
      this.#accessLogKey = accessLogKey;
    }
    const metricsOn = config.metrics.enabled;
    const storeOn = tracing && config.traceStore.enabled;
    return {
      metrics: metricsOn ? this.metrics : undefined,
      exemplars: config.metrics.exemplars,
      tracing,
      samplers: new RouteSamplers(config.tracing.sampler, config.routeSampler),
      propagation: new TracePropagation(config.tracing.propagators),
      propagateBaggage: config.tracing.propagateBaggage,
      store: storeOn ? this.traces : undefined,
      slowMs: config.traceStore.slowerThan,
      exporter: this.#exporter,
      accessLog: this.#accessLog,
      ends: this.#ends,
      needIds: tracing || this.#accessLog !== undefined,
      noop: !metricsOn && !tracing && this.#accessLog === undefined,
      resource: this.#resource,
      scope: this.#scope,
    };
  }

  #retire(resource: Closable): void {
    const entry = {
      resource,
      timer: setTimeout(() => {
        this.#retired.delete(entry);
        void resource.close(CLOSE_BUDGET_MS);
      }, RETIRE_AFTER_MS).unref(),
    };
    this.#retired.add(entry);
  }

  startRequest(headers: IncomingHttpHeaders, listener: string, routeName: string | undefined): RequestTelemetry {
    const state = this.#state;
    if (state.noop) return NOOP_TELEMETRY;
    const metrics = state.metrics;
    const slot = metrics === undefined ? undefined : metrics.routeSlot(listener, routeName);
    if (slot !== undefined) slot.inFlight.value++;
    if (!state.needIds) return new Telemetry(state, slot, routeName, '', '', false, undefined, undefined, undefined, undefined);
    const parent = state.propagation.extract(headers);
    const traceId = parent?.traceId ?? newTraceId();
    const spanId = newSpanId();
    if (!state.tracing) {
      // Ids for the access log only: nothing is injected, the client's trace headers pass through untouched.
      return new Telemetry(state, slot, routeName, traceId, spanId, false, undefined, undefined, undefined, undefined);
    }
    const sampled = state.samplers.forRoute(routeName).shouldSample(traceId, parent?.sampled);
    return new Telemetry(
      state, slot, routeName, traceId, spanId, sampled,
      parent?.parentSpanId,
      parent?.w3c === true ? forwardableTracestate(headers.tracestate) : undefined,
      state.propagateBaggage ? forwardableBaggage(headers.baggage) : undefined,
      headers.host,
    );
  }

  reconfigure(config: ObservabilityConfig): void {
    if (this.#closed) return;
    if (config.tracing.serviceName !== this.#config.tracing.serviceName) this.#resource = this.#makeResource(config);
    this.metrics.reconfigure(config.metrics);
    this.traces.reconfigure(config.traceStore);
    this.#config = config;
    this.#state = this.#compile(config);
  }

  /** Sends what exporters and sinks hold now (tests, and before a planned stop). */
  async flush(): Promise<void> {
    this.#ends.settle();
    await Promise.all([this.#exporter?.flush(), this.#accessLog?.flush()]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ends.settle();
    const closing: Array<Promise<void>> = [];
    for (const entry of this.#retired) {
      clearTimeout(entry.timer);
      closing.push(entry.resource.close(CLOSE_BUDGET_MS));
    }
    this.#retired.clear();
    if (this.#exporter !== undefined) closing.push(this.#exporter.close(CLOSE_BUDGET_MS));
    if (this.#accessLog !== undefined) closing.push(this.#accessLog.close(CLOSE_BUDGET_MS));
    await Promise.all(closing);
  }
}

/**
 * Creates Sluice's observability: metrics, tracing, the trace store and the access log, per the validated
 * `observability:` section.
 *
 * @example
 * const observability = createObservability(config.observability, { instance: 'gw-1' });
 * // in the proxy, per request:
 * const telemetry = observability.startRequest(req.headers, listener.name, route?.name);
 * for (const [name, value] of telemetry.upstreamTraceHeaders(0)) headers[name] = value;
 * telemetry.attemptStart(0, target.origin);
 * telemetry.attemptEnd(0, 200, undefined);
 * telemetry.end(record);
 * // in the admin server:
 * res.setHeader('content-type', observability.metrics.contentType(false));
 * res.end(await observability.metrics.render(false));
 */
export function createObservability(config: ObservabilityConfig, options: ObservabilityOptions = {}): Observability & { flush(): Promise<void> } {
  return new ObservabilityHub(config, options);
}

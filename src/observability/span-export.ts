// OTLP/HTTP protobuf export: OpenTelemetry's BatchSpanProcessor (bounded queue, batches, a timer, a time budget
// per export) in front of OtlpHttpSpanExporter (Sluice's encoder, retries with backoff on 429/502/503/504, gzip).
// The request path only pushes a finished span into the processor's array.
import { createNoopMeter, type Attributes, type Counter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { BatchSpanProcessor, type BufferConfig, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from '../config/observability-schema.ts';
import { OtlpHttpSpanExporter } from './otlp-exporter.ts';

export type SpanOutcome = 'exported' | 'dropped' | 'failed';
export type OtlpTraceSettings = NonNullable<TracingSettings['otlp']>;

/** The processor reports through this metric (OTel SDK self-observability semantic conventions). */
const PROCESSED_SPANS = 'otel.sdk.processor.span.processed';

/**
 * A MeterProvider that turns the processor's self-observability counter into Sluice's own counts: the processor
 * adds to `otel.sdk.processor.span.processed` with error.type "queue_full" when it drops a span for lack of room,
 * another error.type when an export failed, none when it succeeded.
 */
function outcomeMeterProvider(count: (outcome: SpanOutcome, spans: number) => void): MeterProvider {
  const noop = createNoopMeter();
  const processed: Counter = {
    add(value: number, attributes?: Attributes) {
      const errorType = attributes?.['error.type'];
      count(errorType === undefined ? 'exported' : errorType === 'queue_full' ? 'dropped' : 'failed', value);
    },
  };
  const meter: Meter = Object.create(noop, {
    createCounter: { value: (name: string) => (name === PROCESSED_SPANS ? processed : noop.createCounter(name)) },
  });
  return { getMeter: () => meter };
}

/**
 * Where sampled spans go when an OTLP endpoint is configured.
 *
 * @example
 * const pipeline = new SpanExportPipeline({ endpoint: 'http://127.0.0.1:4318', ... }, (outcome, n) => count(outcome, n));
 * pipeline.submit(span);   // never waits; a full queue drops the span and counts it
 * await pipeline.close();  // flushes what is queued
 */
export class SpanExportPipeline {
  readonly #processor: BatchSpanProcessor;
  readonly settings: OtlpTraceSettings;

  constructor(settings: OtlpTraceSettings, count: (outcome: SpanOutcome, spans: number) => void) {
    this.settings = settings;
    const exporter = new OtlpHttpSpanExporter(settings);
    const config: BufferConfig & { selfObsMeterProvider: MeterProvider } = {
      maxQueueSize: settings.maxQueueSize,
      maxExportBatchSize: Math.min(settings.maxBatchSize, settings.maxQueueSize),
      scheduledDelayMillis: settings.flushInterval,
      exportTimeoutMillis: settings.timeout,
      // sdk-trace-base 2.x forwards its whole config to @opentelemetry/sdk-trace's processor, which takes this
      // (experimental) option; the shim's BufferConfig type just does not list it.
      selfObsMeterProvider: outcomeMeterProvider(count),
    };
    this.#processor = new BatchSpanProcessor(exporter, config);
  }

  submit(span: ReadableSpan): void {
    this.#processor.onEnd(span);
  }

  /** Sends what is queued now; resolves when the exports settle (a failed export is counted, not thrown). */
  flush(): Promise<void> {
    return this.#processor.forceFlush().catch(() => undefined);
  }

  close(): Promise<void> {
    return this.#processor.shutdown().catch(() => undefined);
  }
}

// OTLP/HTTP span export, protobuf (or JSON). Each span is encoded the moment its request ends and only its bytes
// wait for the batch, in the bounded buffer every access-log sink uses (sinks/batching-sink.ts: batches, a flush
// timer, drops and failures counted, retries with backoff); a batch goes out as one ExportTraceServiceRequest.
//
// Written by hand instead of using OpenTelemetry's BatchSpanProcessor: that processor queues span objects until
// their batch is sent, up to a second later, so at 100% sampling every span outlives young-generation collection
// and is copied and promoted before it dies — measured, export cost 16 µs of CPU a request (two spans), most of
// it in collecting spans rather than encoding them; encoded at the end, the spans die young (figures:
// docs/observability.md, "Cost").
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { SinkBufferSettings, TracingSettings } from '../config/observability-schema.ts';
import { TraceRequestEncoder } from './otlp-encode.ts';
import { TraceJsonEncoder } from './otlp-json.ts';
import { postOtlp } from './otlp-http.ts';
import { BatchingSink, type Batch, type SinkOutcome } from './sinks/batching-sink.ts';

export type SpanOutcome = 'exported' | 'dropped' | 'failed';
export type OtlpTraceSettings = NonNullable<TracingSettings['otlp']>;

const gzip = promisify(gzipCallback);
const OUTCOMES: Record<SinkOutcome, SpanOutcome> = { written: 'exported', dropped: 'dropped', failed: 'failed' };
/** Retries of a failed export (429, 502, 503, 504, a connection failure), with backoff from 100 ms and jitter. */
const RETRIES = 5;
const RETRY_BACKOFF_MS = 100;
/** Bytes queued at most: far above maxQueueSize of Sluice's spans (≈ 400 bytes each), a bound on odd big ones. */
const MAX_QUEUED_BYTES = 256 * 1024 * 1024;

/**
 * Where sampled spans go when an OTLP endpoint is configured.
 *
 * @example
 * const pipeline = new SpanExportPipeline({ endpoint: 'http://127.0.0.1:4318', ... }, resource, scope, (outcome, n) => count(outcome, n));
 * pipeline.submit(span);   // encodes now, never waits; a full queue drops the span and counts it
 * await pipeline.close();  // sends what is queued, within the time budget
 */
export class SpanExportPipeline extends BatchingSink {
  readonly settings: OtlpTraceSettings;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #encoder: TraceRequestEncoder | TraceJsonEncoder;
  readonly #resource: Resource;
  readonly #scope: InstrumentationScope;
  readonly #writeSpan = (buf: Buffer, pos: number): number => this.#encoder.writePreparedSpan(buf, pos);
  /**
   * The request body, reused from batch to batch (one batch is in flight at a time): a new one per batch is up to
   * a megabyte outside V8's heap, and V8 answers such allocations with full collections (batching-sink.ts).
   */
  #body = Buffer.allocUnsafe(0);

  constructor(settings: OtlpTraceSettings, resource: Resource, scope: InstrumentationScope, count: (outcome: SpanOutcome, spans: number) => void) {
    const buffer: SinkBufferSettings = {
      maxLines: settings.maxQueueSize,
      maxBytes: MAX_QUEUED_BYTES,
      maxBatch: Math.min(settings.maxBatchSize, settings.maxQueueSize),
      flushInterval: settings.flushInterval,
      maxRetries: RETRIES,
      retryBackoff: RETRY_BACKOFF_MS,
    };
    super('otlp-traces', buffer, { count: (outcome, n) => count(OUTCOMES[outcome], n) }, 'bytes');
    this.settings = settings;
    this.#url = `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`;
    const json = settings.protocol === 'http/json';
    this.#encoder = json ? new TraceJsonEncoder() : new TraceRequestEncoder();
    this.#headers = { ...settings.headers, 'content-type': json ? 'application/json' : 'application/x-protobuf' };
    if (settings.compression === 'gzip') this.#headers['content-encoding'] = 'gzip';
    this.#resource = resource;
    this.#scope = scope;
  }

  submit(span: ReadableSpan): void {
    this.writeRecord(this.#encoder.prepareSpan(span), this.#writeSpan);
  }

  protected async send({ bytes: spans }: Batch): Promise<void> {
    let size = 0;
    for (const slice of spans) size += slice.length;
    const encoder = this.#encoder;
    const head = encoder.requestHead(this.#resource, this.#scope, size);
    const room = head.length + size + encoder.endBytes;
    if (this.#body.length < room) this.#body = Buffer.allocUnsafe(Math.max(room, 2 * this.#body.length));
    let pos = head.copy(this.#body, 0);
    for (const slice of spans) pos += slice.copy(this.#body, pos);
    const raw = this.#body.subarray(0, encoder.writeRequestEnd(this.#body, pos));
    const body = this.settings.compression === 'gzip' ? await gzip(raw) : raw;
    await postOtlp(this.#url, this.#headers, body, this.settings.timeout);
  }
}

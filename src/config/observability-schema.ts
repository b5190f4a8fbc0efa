// The `observability:` section: metrics, tracing, the embedded trace store and access logs. Kept beside schema.ts
// so it can grow on its own; schema.ts hooks it in as `observability: observabilitySchema.prefault({})`.
// Descriptions become the reference docs, like every other field.
import { z } from 'zod';
import { duration, size } from './units.ts';

const HTTP_URL = z.string().regex(/^https?:\/\/[^\s/?#]+(?:\/[^\s?#]*)?$/, 'use an http:// or https:// URL, e.g. http://127.0.0.1:4318');

/** Fields an access-log line may carry, in the order they are written. */
export const ACCESS_LOG_FIELDS = [
  'time', 'trace_id', 'span_id', 'request_id', 'listener', 'route', 'upstream', 'target', 'method', 'path',
  'status', 'error_code', 'duration_ms', 'upstream_ms', 'ttfb_ms', 'bytes_in', 'bytes_out', 'attempts',
  'client_address', 'user_agent', 'sampled',
] as const;

export const samplerSchema = z
  .union([
    z.enum(['always', 'never']).describe('"always" samples every request and "never" none, whatever the caller decided.'),
    z.strictObject({
      ratio: z.number().min(0).max(1).describe(
        'Fraction of new traces sampled (0 to 1). Decided from the trace id, so services with the same ratio agree.',
      ),
      parentBased: z.boolean().default(true).describe(
        'Follow the sampled flag of an incoming traceparent; the ratio then applies only to traces Sluice starts.',
      ),
    }),
  ])
  .describe('Which requests are traced: "always", "never" or { ratio, parentBased }.');

const otlpTraces = z.strictObject({
  endpoint: HTTP_URL.describe('Base URL of an OTLP/HTTP receiver (collector, Jaeger, Tempo); spans are posted to {endpoint}/v1/traces.'),
  headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers, e.g. an authorization token.'),
  protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf').describe(
    'OTLP/HTTP encoding (the values of OTEL_EXPORTER_OTLP_PROTOCOL): protobuf, or JSON for a receiver that needs it (measured on Sluice\'s spans: ≈ 2.2× the bytes and ≈ 1.8× the CPU to encode).',
  ),
  compression: z.enum(['none', 'gzip']).default('none').describe('Compression of the payload.'),
  timeout: duration.prefault('10s').describe('Deadline of one export request; a failed export (429, 502, 503, 504, no connection) is retried 5 times with backoff, then its spans are counted as failed.'),
  maxQueueSize: z.number().int().min(1).max(1_000_000).default(8192).describe(
    'Finished spans waiting for export; beyond this new spans are dropped and counted in sluice_trace_spans_total{outcome="dropped"}.',
  ),
  maxBatchSize: z.number().int().min(1).max(100_000).default(2048).describe(
    'Most spans in one export request (larger batches cost less per span; 2048 of Sluice\'s spans are ≈ 800 KB).',
  ),
  flushInterval: duration.prefault('1s').describe('Longest time a finished span waits before its batch is sent.'),
});

export const PROPAGATORS = ['tracecontext', 'b3', 'b3multi'] as const;
export type Propagator = (typeof PROPAGATORS)[number];

const tracing = z.strictObject({
  enabled: z.boolean().default(true).describe('Trace requests: server and client spans, W3C trace context propagation.'),
  serviceName: z.string().min(1).default('sluice').describe('service.name of the spans Sluice reports.'),
  sampler: samplerSchema.prefault({ ratio: 0.01 }).describe(
    'Which requests are traced (default: those the caller traced, and 1% of the others). Errors and slow requests are kept in the trace store either way.',
  ),
  propagators: z.array(z.enum(PROPAGATORS)).min(1).default(['tracecontext'])
    .refine((list) => new Set(list).size === list.length, 'list each format once')
    .describe(
      'Trace header formats: read from callers in this order (the first sent and valid wins) and all written upstream. "tracecontext" is W3C traceparent/tracestate, "b3" Zipkin\'s single b3 header, "b3multi" its X-B3-* headers. A format not listed passes through untouched.',
    ),
  propagateBaggage: z.boolean().default(true).describe('Forward the W3C baggage header upstream (up to 8192 bytes).'),
  otlp: otlpTraces.optional().describe('Export spans with OTLP/HTTP, protobuf or JSON (default: kept only in the embedded trace store).'),
});

const traceStore = z.strictObject({
  enabled: z.boolean().default(true).describe('Keep recent traces in memory for GET /api/v1/traces and the dashboard.'),
  maxTraces: z.number().int().min(1).max(100_000).default(1000).describe('Traces kept; the oldest ordinary ones go first.'),
  reservedForNotable: z.number().min(0).max(1).default(0.5).describe(
    'Share of maxTraces kept for errors and slow requests, so ordinary traffic never pushes them out.',
  ),
  slowerThan: duration.prefault('1s').describe('A request at least this slow is kept as notable, sampled or not.'),
  maxSpansPerTrace: z.number().int().min(2).max(10_000).default(64).describe('Spans kept per trace; more are counted, not stored.'),
  ordinaryPerSecond: z.number().int().min(0).max(1_000_000).default(100).describe(
    'Most ordinary traces (sampled, neither errors nor slow) taken in a second; 0 takes every one. At high sampling the store would otherwise turn over many times a second and spend the gateway\'s CPU collecting traces nobody can look at in time. Errors and slow requests are always taken, and a trace already in the store takes its later hops.',
  ),
});

const metrics = z.strictObject({
  enabled: z.boolean().default(true).describe('Record request metrics for /metrics.'),
  durationBuckets: z
    .array(duration)
    .min(1)
    .prefault([0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000])
    .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]!), 'buckets must be strictly increasing')
    .describe('Upper bounds of the request and upstream-attempt duration histograms (a bare number is ms, 0.5 = 500µs).'),
  exemplars: z.boolean().default(true).describe('Attach the trace id of traced requests to histogram buckets (OpenMetrics only).'),
  processMetrics: z.boolean().default(true).describe('Also expose process_* and nodejs_* metrics (CPU, memory, event loop).'),
  maxRouteSeries: z.number().int().min(1).max(100_000).default(2000).describe(
    'Cardinality guard: most (listener, route) pairs labelled; later ones share route="_overflow".',
  ),
});

const fileSink = z.strictObject({
  path: z.string().min(1).describe('File the lines are appended to; rotated files sit beside it as NAME-YYYYMMDDTHHMMSS.EXT.'),
  maxSize: size.prefault('100MiB').describe('Rotate when the file would grow past this size (0: never by size).'),
  rotateEvery: duration.prefault('24h').describe('Rotate at every multiple of this interval since the epoch, UTC (0: never by time).'),
  maxFiles: z.number().int().min(0).default(7).describe('Rotated files kept; older ones are deleted (0 keeps all).'),
});

const lokiSink = z.strictObject({
  url: HTTP_URL.describe('Loki base URL, e.g. http://127.0.0.1:3100; lines are pushed to {url}/loki/api/v1/push.'),
  labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'Loki label names are letters, digits and _'), z.string())
    .default({ job: 'sluice' })
    .describe('Stream labels; fixed values only (request data stays in the line, never in labels).'),
  tenant: z.string().optional().describe('X-Scope-OrgID sent to a multi-tenant Loki.'),
  headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers, e.g. an authorization token.'),
  timeout: duration.prefault('10s').describe('Time budget of one push request.'),
});

const otlpLogsSink = z.strictObject({
  endpoint: HTTP_URL.describe('Base URL of an OTLP/HTTP receiver; log records are posted to {endpoint}/v1/logs.'),
  headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers, e.g. an authorization token.'),
  timeout: duration.prefault('10s').describe('Time budget of one export request.'),
});

export const accessLogSinkSchema = z
  .union([
    z.literal('stdout').describe('JSON lines on standard output.'),
    z.strictObject({ file: fileSink.describe('A file with size and time rotation.') }),
    z.strictObject({ loki: lokiSink.describe('The Loki push API.') }),
    z.strictObject({ otlp: otlpLogsSink.describe('OTLP/HTTP protobuf log records.') }),
  ])
  .describe('Where access-log lines go: "stdout", { file }, { loki } or { otlp }.');

const sinkBuffer = z.strictObject({
  maxLines: z.number().int().min(1).max(10_000_000).default(20_000).describe(
    'Lines buffered per sink; when full, new lines are dropped and counted (the request path never waits).',
  ),
  maxBytes: size.prefault('16MiB').describe('Bytes buffered per sink; when full, new lines are dropped and counted.'),
  maxBatch: z.number().int().min(1).max(100_000).default(1000).describe('Most lines written or sent at once.'),
  flushInterval: duration.prefault('1s').describe('Longest time a line waits in the buffer.'),
  maxRetries: z.number().int().min(0).max(100).default(5).describe('Retries of a failed write or push, with exponential backoff; then the batch is dropped and counted.'),
  retryBackoff: duration.prefault('200ms').describe('First retry delay; each retry doubles it, up to 30s, with jitter.'),
});

const accessLog = z.strictObject({
  enabled: z.boolean().default(true).describe('Write one JSON line per request (on when the accessLog section is present).'),
  format: z.literal('json').default('json').describe('Line format; JSON is the only one.'),
  fields: z.array(z.enum(ACCESS_LOG_FIELDS)).min(1).optional().describe(`Fields written (default: all of ${ACCESS_LOG_FIELDS.join(', ')}).`),
  sampling: z.number().min(0).max(1).default(1).describe('Fraction of lines written; errors are always written.'),
  errorsOnly: z.boolean().default(false).describe('Write only errors (status >= 500 or a Sluice error code) — or slow requests when slowerThan is set.'),
  slowerThan: duration.optional().describe('Write only requests at least this slow — or errors when errorsOnly is set.'),
  sink: z.union([accessLogSinkSchema, z.array(accessLogSinkSchema).min(1)]).default('stdout').describe(
    'One sink or a list; every sink batches and drops (counted) rather than block.',
  ),
  buffer: sinkBuffer.prefault({}).describe('Batching, bounded buffering and retries of every sink.'),
});

export const observabilitySchema = z
  .strictObject({
    metrics: metrics.prefault({}).describe('Prometheus metrics on the admin /metrics endpoint.'),
    tracing: tracing.prefault({}).describe('OpenTelemetry tracing and W3C trace context.'),
    traceStore: traceStore.prefault({}).describe('The embedded store of recent traces behind /api/v1/traces.'),
    accessLog: accessLog.prefault({ enabled: false }).describe('Per-request JSON access log (off unless this section is present).'),
  })
  .describe('Metrics, tracing, the trace store and access logs.');

export type ObservabilityInput = z.input<typeof observabilitySchema>;
/** The validated section, defaults filled, units normalised (ms, bytes). */
export type ObservabilitySettings = z.output<typeof observabilitySchema>;
export type SamplerSettings = z.output<typeof samplerSchema>;
export type AccessLogSettings = ObservabilitySettings['accessLog'];
export type AccessLogSinkSettings = z.output<typeof accessLogSinkSchema>;
export type AccessLogField = (typeof ACCESS_LOG_FIELDS)[number];
export type TracingSettings = ObservabilitySettings['tracing'];
export type MetricsSettings = ObservabilitySettings['metrics'];
export type TraceStoreSettings = ObservabilitySettings['traceStore'];
export type SinkBufferSettings = AccessLogSettings['buffer'];

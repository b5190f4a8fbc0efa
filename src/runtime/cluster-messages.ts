// The IPC protocol between the cluster primary and its workers. `seq` pairs an answer with its request, so a late
// answer to an attempt that was given up (or rolled back) is never taken for the answer to a newer one.
// Rate-limit takes and their answers (resilience/rate-limit/cluster-store.ts) share the channel with their own
// `seq` counter: a listener must always check `type` before `seq`.
import type { SluiceConfig } from '../config/schema.ts';
import type { TraceQuery } from '../observability/index.ts';
import type { BoundAddress, OverloadReport } from '../proxy/gateway.ts';
import type { RateLimitResultMessage, RateLimitTakeMessage } from '../resilience/rate-limit/cluster-store.ts';
import type { UpstreamReport } from '../upstream/registry.ts';

export type ToWorker =
  | { type: 'apply'; seq: number; version: number; config: SluiceConfig }
  | { type: 'shutdown' }
  /** Asks for the worker's view of its upstreams (GET /api/v1/upstreams). */
  | { type: 'report'; seq: number }
  /** Asks for the worker's metrics or traces (GET /metrics, /api/v1/traces…). */
  | { type: 'telemetry'; seq: number; ask: TelemetryAsk }
  | RateLimitResultMessage;

export type TelemetryAsk = { what: 'metrics' } | { what: 'traces'; query: TraceQuery } | { what: 'trace'; traceId: string };

/** The answer to a TelemetryAsk: a metrics snapshot (aggregateMetrics' input), TraceSummary[], or a TraceDetail. */
export type WorkerTelemetry = { type: 'telemetry'; seq: number; pid: number; answer: unknown };

export type WorkerReport = { type: 'report'; seq: number; pid: number; upstreams: UpstreamReport[]; overload: OverloadReport };

export type ToPrimary =
  /** Sent once the worker listens for messages: only then can it be given a config. */
  | { type: 'ready' }
  | { type: 'applied'; seq: number; version: number; listeners: BoundAddress[] }
  | { type: 'apply-failed'; seq: number; version: number; error: string }
  | WorkerReport
  | WorkerTelemetry
  | RateLimitTakeMessage;

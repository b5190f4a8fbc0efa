// What the admin server reads of observability: the metrics exposition and the embedded trace store. The runtime
// implements it for one process, or by asking every cluster worker and merging (runtime/telemetry-views.ts).
import type { TraceDetail, TraceQuery, TraceSummary } from '../observability/index.ts';

export interface TelemetryView {
  /** GET /metrics: Prometheus text 0.0.4, or OpenMetrics 1.0 when the scraper asks for it. */
  metrics(openMetrics: boolean): Promise<{ contentType: string; body: string }>;
  /** GET /api/v1/traces: newest first. */
  traces(query: TraceQuery): Promise<TraceSummary[]>;
  /** GET /api/v1/traces/{traceId}: every span Sluice recorded of that trace. */
  trace(traceId: string): Promise<TraceDetail | undefined>;
}

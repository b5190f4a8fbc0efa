// The admin's view of observability (admin/telemetry-view.ts), for one process or for a cluster. In a cluster each
// worker records its own metrics and traces; the primary asks every worker and merges: metric snapshots are
// summed by aggregateMetrics, trace lists merged newest first, one trace's parts joined across workers.
import type { TelemetryView } from '../admin/telemetry-view.ts';
import {
  aggregateMetrics,
  mergeTraceDetails,
  mergeTraceSummaries,
  type Observability,
  type GatewayMetrics,
  type TraceDetail,
  type TraceSummary,
} from '../observability/index.ts';
import type { Gateway } from '../proxy/gateway.ts';
import type { TelemetryAsk } from './cluster-messages.ts';

/** How many configuration loads the control plane applied and rejected. */
export type ReloadCounts = () => { ok: number; failed: number };

/** This process's telemetry: `sluice start --workers 1`. */
export function processTelemetry(gateway: Gateway, observability: Observability, reloads: ReloadCounts): TelemetryView {
  return {
    async metrics(openMetrics) {
      gateway.refreshUpstreamGauges();
      const metrics = observability.metrics;
      const { ok, failed } = reloads();
      metrics.setReloadCounts(ok, failed);
      return { contentType: metrics.contentType(openMetrics), body: await metrics.render(openMetrics) };
    },
    traces: async (query) => observability.traces.query(query),
    trace: async (traceId) => observability.traces.get(traceId),
  };
}

/** A worker's answer to the primary's question (cluster-worker.ts). */
export async function answerTelemetry(gateway: Gateway, observability: Observability, ask: TelemetryAsk): Promise<unknown> {
  if (ask.what === 'metrics') {
    gateway.refreshUpstreamGauges();
    return observability.metrics.snapshot();
  }
  if (ask.what === 'traces') return observability.traces.query(ask.query);
  return observability.traces.get(ask.traceId) ?? null;
}

/**
 * The cluster's telemetry. `primary` holds what only the primary knows (config reloads, the running version) and
 * its own process metrics; it is summed with the workers' like one more worker.
 */
export function clusterTelemetry(ask: (question: TelemetryAsk) => Promise<unknown[]>, primary: GatewayMetrics, reloads: ReloadCounts): TelemetryView {
  return {
    async metrics(openMetrics) {
      const { ok, failed } = reloads();
      primary.setReloadCounts(ok, failed);
      const [workers, own] = await Promise.all([ask({ what: 'metrics' }), primary.snapshot()]);
      const body = await aggregateMetrics([...(workers as unknown[][]), own], openMetrics);
      return { contentType: primary.contentType(openMetrics), body };
    },
    async traces(query) {
      const lists = (await ask({ what: 'traces', query })) as TraceSummary[][];
      return mergeTraceSummaries(lists, Math.min(1000, Math.max(1, query.limit ?? 50)));
    },
    async trace(traceId) {
      const parts = (await ask({ what: 'trace', traceId })) as Array<TraceDetail | null>;
      return mergeTraceDetails(parts.map((p) => p ?? undefined));
    },
  };
}

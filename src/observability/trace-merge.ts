// With --workers N every worker keeps its own trace store; the primary asks them all and merges here. Two hops of
// one trace (A → Sluice → B → Sluice → C) can land in different workers, so details of one trace id are joined.
import type { TraceDetail, TraceSummary } from './trace-store.ts';

/** Newest first, at most `limit`; a trace two workers hold is listed once (its outermost hop). */
export function mergeTraceSummaries(lists: readonly TraceSummary[][], limit: number): TraceSummary[] {
  const byId = new Map<string, TraceSummary>();
  for (const list of lists) {
    for (const summary of list) {
      const known = byId.get(summary.traceId);
      if (known === undefined || summary.startTime < known.startTime) byId.set(summary.traceId, summary);
    }
  }
  return [...byId.values()].sort((a, b) => (a.startTime < b.startTime ? 1 : a.startTime > b.startTime ? -1 : 0)).slice(0, limit);
}

/** One trace from every worker that holds part of it: the outermost hop describes it, spans are joined. */
export function mergeTraceDetails(details: ReadonlyArray<TraceDetail | undefined>): TraceDetail | undefined {
  const parts = details.filter((d): d is TraceDetail => d !== undefined);
  if (parts.length <= 1) return parts[0];
  parts.sort((a, b) => (a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : 0));
  const spans = parts.flatMap((p) => p.spans).sort((a, b) => a.startTime - b.startTime);
  return {
    ...parts[0]!,
    spans,
    spanCount: parts.reduce((n, p) => n + p.spanCount, 0),
    error: parts.some((p) => p.error),
    slow: parts.some((p) => p.slow),
  };
}

// An instance's request figures for a rollout, read from its own metrics (sluice_http_requests_total and
// sluice_http_request_duration_seconds, as prom-client snapshots — one per worker with --workers N, the same
// data /metrics aggregates), and the p99 of the result. No second counter on the request path: the figures are
// the difference between two readings of the metrics, one when the instance applied its config and one now —
// taken per process (WindowReadings), because with --workers N a worker may die, be replaced, or miss a reading.
import type { WindowStats } from './types.ts';

const REQUESTS = 'sluice_http_requests_total';
const DURATION = 'sluice_http_request_duration_seconds';

/** Totals since the process started. */
export interface MetricTotals {
  requests: number;
  errors: number;
  bounds: number[];
  cumulative: number[];
}

interface PromValue {
  labels?: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** Sums the request counters and duration buckets of every snapshot (every worker's). */
export function metricTotals(snapshots: unknown[][]): MetricTotals {
  let requests = 0;
  let errors = 0;
  const byLe = new Map<number, number>();
  for (const snapshot of snapshots) {
    for (const item of snapshot) {
      const metric = item as { name?: string; values?: PromValue[] };
      if (metric.name === REQUESTS) {
        for (const v of metric.values ?? []) {
          requests += v.value;
          if (v.labels?.status_class === '5xx') errors += v.value;
        }
      } else if (metric.name === DURATION) {
        for (const v of metric.values ?? []) {
          if (v.metricName !== `${DURATION}_bucket` || v.labels?.le === undefined) continue;
          const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
          byLe.set(le, (byLe.get(le) ?? 0) + v.value);
        }
      }
    }
  }
  const les = [...byLe.keys()].sort((a, b) => a - b);
  if (les.at(-1) !== Infinity) les.push(Infinity);
  return { requests, errors, bounds: les.filter((b) => b !== Infinity), cumulative: les.map((le) => byLe.get(le) ?? 0) };
}

/** One process's metrics at one reading: a worker's (pid), or the single process's. */
export interface MetricSource {
  /** Stable for the life of the process (its pid). */
  id: string;
  /** ms since the epoch: when the process started counting (a worker's fork). */
  startedAt: number;
  snapshot: unknown[];
}

/**
 * The figures of one window, kept per process and summed. Summing the processes first and subtracting after would
 * be wrong with --workers N: a worker that dies takes its counts out of the sum (the window's figures would go
 * down, even to zero), and one that missed the first reading would bring every request it ever served into the
 * window. Here each process counts from its own first reading — from zero if it started within the window (a
 * replacement worker) — and a process that is gone keeps the figures of its last reading.
 *
 * @example
 * const window = new WindowReadings(new Date().toISOString(), await sources());
 * window.read(await sources()); // { since, requests: 12, errors: 0, bounds, cumulative }
 */
export class WindowReadings {
  readonly since: string;
  readonly #sinceMs: number;
  readonly #base = new Map<string, MetricTotals>();
  readonly #last = new Map<string, MetricTotals>();

  constructor(since: string, sources: MetricSource[]) {
    this.since = since;
    this.#sinceMs = Date.parse(since);
    this.#add(sources);
  }

  /** Takes a reading and returns the window's figures so far. */
  read(sources: MetricSource[]): WindowStats {
    this.#add(sources);
    const each = [...this.#last].map(([id, now]) => statsBetween(this.#base.get(id)!, now, this.since));
    return { since: this.since, ...sumStats(each) };
  }

  #add(sources: MetricSource[]): void {
    for (const source of sources) {
      const now = metricTotals([source.snapshot]);
      // A process first seen now that started within the window served all its requests in it; one that started
      // before (it did not answer the first reading in time) counts from here: at most a reading's worth is missed.
      if (!this.#base.has(source.id)) this.#base.set(source.id, source.startedAt >= this.#sinceMs ? zeroLike(now) : now);
      this.#last.set(source.id, now);
    }
  }
}

function zeroLike(totals: MetricTotals): MetricTotals {
  return { requests: 0, errors: 0, bounds: totals.bounds, cumulative: totals.cumulative.map(() => 0) };
}

/** What happened between two readings of one process; a counter that went down counts from zero. */
export function statsBetween(base: MetricTotals, now: MetricTotals, since: string): WindowStats {
  const sameBuckets = base.bounds.length === now.bounds.length && base.bounds.every((b, i) => b === now.bounds[i]);
  return {
    since,
    requests: Math.max(0, now.requests - base.requests),
    errors: Math.max(0, now.errors - base.errors),
    bounds: now.bounds,
    cumulative: now.cumulative.map((c, i) => Math.max(0, c - (sameBuckets ? base.cumulative[i]! : 0))),
  };
}

/**
 * Several instances' figures as one. Their bucket bounds are normally the same (observability.metrics
 * durationBuckets); when they are not, each instance's count at a bound is its count at its nearest bound below,
 * which can only make the p99 look worse, never better.
 */
export function sumStats(all: WindowStats[]): Omit<WindowStats, 'since'> {
  const bounds = [...new Set(all.flatMap((s) => s.bounds))].sort((a, b) => a - b);
  const cumulative = [...bounds, Infinity].map((bound) =>
    all.reduce((n, s) => {
      let i = s.bounds.length;
      if (bound !== Infinity) {
        i = -1;
        while (i + 1 < s.bounds.length && s.bounds[i + 1]! <= bound) i++;
      }
      return n + (i < 0 ? 0 : (s.cumulative[i] ?? 0));
    }, 0),
  );
  return {
    requests: all.reduce((n, s) => n + s.requests, 0),
    errors: all.reduce((n, s) => n + s.errors, 0),
    bounds,
    cumulative,
  };
}

/**
 * The q-quantile in ms, interpolated linearly within its bucket as Prometheus's histogram_quantile does: the first
 * bucket starts at 0, and a quantile in the +Inf bucket is the highest finite bound. undefined without requests.
 *
 * @example
 * quantileMs({ bounds: [0.1, 0.5], cumulative: [50, 100, 100] }, 0.99); // 492
 */
export function quantileMs(stats: Pick<WindowStats, 'bounds' | 'cumulative'>, q: number): number | undefined {
  const total = stats.cumulative.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < stats.cumulative.length; i++) {
    const count = stats.cumulative[i]!;
    if (count < rank) continue;
    if (i >= stats.bounds.length) return (stats.bounds.at(-1) ?? 0) * 1000;
    const lower = i === 0 ? 0 : stats.bounds[i - 1]!;
    const below = i === 0 ? 0 : stats.cumulative[i - 1]!;
    const upper = stats.bounds[i]!;
    const inBucket = count - below;
    return (inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket) * 1000;
  }
  return (stats.bounds.at(-1) ?? 0) * 1000;
}

// Metric families whose children are plain objects the hot path increments directly. prom-client's own metrics
// hash a label object on every inc/observe; here a request finds its children once (cached per route) and then
// pays a field increment. prom-client still does what it is good at — the text and OpenMetrics formats, exemplar
// syntax, process metrics and aggregation across workers — through its registry's collection interface: each
// family hands the registry an object with name/help/type/aggregator and get(), like its own metrics do.
import type { Aggregator } from 'prom-client';

export type Labels = Readonly<Record<string, string>>;

/** A counter or gauge child: the hot path reads and writes `value`. */
export class ScalarSeries {
  readonly labels: Labels;
  value = 0;
  constructor(labels: Labels) {
    this.labels = labels;
  }
}

/** A histogram child. Exemplars (OpenMetrics) keep the last traced observation per bucket. */
export class HistogramSeries {
  readonly labels: Labels;
  readonly #bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  #exemplarTrace: Array<string | undefined> | undefined;
  #exemplarValue: Float64Array | undefined;
  #exemplarTime: Float64Array | undefined;

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation; traceId (when given) becomes the bucket's exemplar. */
  observe(value: number, traceId?: string): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    if (traceId !== undefined && traceId.length > 0) {
      if (this.#exemplarTrace === undefined) {
        this.#exemplarTrace = new Array<string | undefined>(bounds.length + 1);
        this.#exemplarValue = new Float64Array(bounds.length + 1);
        this.#exemplarTime = new Float64Array(bounds.length + 1);
      }
      this.#exemplarTrace[i] = traceId;
      this.#exemplarValue![i] = value;
      this.#exemplarTime![i] = Date.now();
    }
  }

  exemplar(bucket: number): PromExemplar | undefined {
    const traceId = this.#exemplarTrace?.[bucket];
    if (traceId === undefined) return undefined;
    return { labelSet: { trace_id: traceId }, value: this.#exemplarValue![bucket]!, timestamp: this.#exemplarTime![bucket]! / 1000 };
  }
}

interface PromExemplar {
  labelSet: Record<string, string>;
  value: number;
  timestamp: number;
}

/** One value line in prom-client's collection format. */
export interface PromValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  exemplar?: PromExemplar;
}

/** What prom-client's Registry reads from a metric: the same shape its Counter/Gauge/Histogram return from get(). */
export interface PromCollectable {
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: Aggregator;
  get(): { name: string; help: string; type: string; aggregator: Aggregator; values: PromValue[] };
  reset(): void;
}

export type FamilyType = 'counter' | 'gauge' | 'histogram';

abstract class Family<S extends { readonly labels: Labels }> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregator: Aggregator;
  abstract readonly type: FamilyType;
  protected readonly series = new Map<string, S>();

  constructor(name: string, help: string, labelNames: readonly string[], aggregator: Aggregator) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.aggregator = aggregator;
  }

  protected abstract create(labels: Labels): S;

  /** The child for these label values (in labelNames order), created on first use. Not for per-request calls. */
  child(...values: string[]): S {
    const key = values.join('\u0000');
    let series = this.series.get(key);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]!] = values[i] ?? '';
      series = this.create(labels);
      this.series.set(key, series);
    }
    return series;
  }

  /** Drops a child, e.g. a target that left its upstream, so it is no longer exported. */
  remove(...values: string[]): void {
    this.series.delete(values.join('\u0000'));
  }

  get size(): number {
    return this.series.size;
  }

  protected abstract values(name: string): PromValue[];

  /**
   * The object registered with a prom-client Registry under `name`. Counters get two views because prom-client's
   * OpenMetrics rendering renames a counter in place (dropping `_total`, then adding it back to each sample):
   * the Prometheus view is named `x_total`, the OpenMetrics view `x`.
   */
  view(openMetrics: boolean): PromCollectable {
    const name = openMetrics && this.type === 'counter' ? this.name.replace(/_total$/, '') : this.name;
    return {
      name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      get: () => ({ name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values(name) }),
      reset: () => this.series.clear(),
    };
  }
}

/** Counters and gauges: one number per child. */
abstract class ScalarFamily extends Family<ScalarSeries> {
  protected create(labels: Labels): ScalarSeries {
    return new ScalarSeries(labels);
  }
  protected values(): PromValue[] {
    const out: PromValue[] = [];
    for (const s of this.series.values()) out.push({ labels: s.labels, value: s.value });
    return out;
  }
}

export class CounterFamily extends ScalarFamily {
  readonly type = 'counter';
  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    super(name, help, labelNames, 'sum');
  }
}

export class GaugeFamily extends ScalarFamily {
  readonly type = 'gauge';
  constructor(name: string, help: string, labelNames: readonly string[], aggregator: Aggregator = 'sum') {
    super(name, help, labelNames, aggregator);
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';
  readonly bounds: readonly number[];
  readonly #le: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames, 'sum');
    this.bounds = bounds;
    this.#le = [...bounds.map((b) => String(b)), '+Inf'];
  }
  protected create(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }
  protected values(name: string): PromValue[] {
    const out: PromValue[] = [];
    const bucketName = `${name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#le.length; i++) {
        cumulative += s.counts[i]!;
        const value: PromValue = { labels: { ...s.labels, le: this.#le[i]! }, value: cumulative, metricName: bucketName };
        const exemplar = s.exemplar(i);
        if (exemplar !== undefined) value.exemplar = exemplar;
        out.push(value);
      }
      out.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
      out.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
    }
    return out;
  }
}

// Plugins' own metrics: counters and histograms named sluice_plugin_*, exported on /metrics with Sluice's. A family
// is created once per name and process (a plugin re-created on reload gets the one it had), and handed to the
// gateway's metrics to expose; without metrics the helpers still work and nothing is exported.
import { CounterFamily, HistogramFamily } from '../observability/metric-family.ts';
import type { PluginCounter, PluginHistogram, PluginMetrics } from './api.ts';

/** Where families are exposed: the gateway's metrics (SluiceMetrics.registerFamily). */
export type FamilySink = (family: CounterFamily | HistogramFamily) => void;

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PREFIX = 'sluice_plugin_';

interface Known {
  kind: 'counter' | 'histogram';
  labels: string;
  metric: PluginCounter | PluginHistogram;
}

export class PluginMetricsRegistry implements PluginMetrics {
  readonly #known = new Map<string, Known>();
  readonly #sink: FamilySink | undefined;

  constructor(sink?: FamilySink) {
    this.#sink = sink;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): PluginCounter {
    return this.#get(name, 'counter', labelNames, () => {
      const family = new CounterFamily(PREFIX + name, help, labelNames);
      this.#sink?.(family);
      const plain = labelNames.length === 0 ? family.child() : undefined;
      return {
        inc(labels?: readonly string[], value = 1): void {
          (plain ?? family.child(...(labels ?? []))).value += value;
        },
      };
    }) as PluginCounter;
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets: readonly number[] = DEFAULT_BUCKETS): PluginHistogram {
    return this.#get(name, 'histogram', labelNames, () => {
      const family = new HistogramFamily(PREFIX + name, help, labelNames, buckets);
      this.#sink?.(family);
      const plain = labelNames.length === 0 ? family.child() : undefined;
      return {
        observe(value: number, labels?: readonly string[]): void {
          (plain ?? family.child(...(labels ?? []))).observe(value);
        },
      };
    }) as PluginHistogram;
  }

  #get(name: string, kind: Known['kind'], labelNames: readonly string[], make: () => PluginCounter | PluginHistogram): PluginCounter | PluginHistogram {
    if (!NAME.test(name)) throw new TypeError(`invalid metric name "${name}": use letters, digits and "_"`);
    const labels = labelNames.join(',');
    const known = this.#known.get(name);
    if (known !== undefined) {
      if (known.kind !== kind || known.labels !== labels) throw new TypeError(`metric "${PREFIX}${name}" already exists as a ${known.kind} with labels [${known.labels}]`);
      return known.metric;
    }
    const metric = make();
    this.#known.set(name, { kind, labels, metric });
    return metric;
  }
}

// Head samplers: the decision is made once, when the request arrives, and travels in the traceparent flags.
import type { SamplerSettings } from '../config/observability-schema.ts';

export interface Sampler {
  /** parentSampled is undefined when the request carried no valid traceparent. */
  shouldSample(traceId: string, parentSampled: boolean | undefined): boolean;
  readonly description: string;
}

// The ratio test reads the low 52 bits of the trace id (exact in a double). Trace Context Level 2 makes the low
// 7 bytes random, so every service applying the same ratio to the same trace reaches the same answer — the
// property OpenTelemetry's TraceIdRatioBased sampler relies on too.
const RATIO_BITS = 2 ** 52;

function ratioAccepts(traceId: string, threshold: number): boolean {
  return parseInt(traceId.slice(19), 16) < threshold;
}

const ALWAYS: Sampler = { shouldSample: () => true, description: 'always' };
const NEVER: Sampler = { shouldSample: () => false, description: 'never' };

/**
 * Compiles sampler settings: "always", "never", or { ratio, parentBased } where a parent's decision wins.
 *
 * @example
 * const sampler = compileSampler({ ratio: 0.1, parentBased: true });
 * sampler.shouldSample(traceId, undefined); // true for ~10% of trace ids
 * sampler.shouldSample(traceId, true);      // true: the caller sampled this trace
 */
export function compileSampler(settings: SamplerSettings): Sampler {
  if (settings === 'always') return ALWAYS;
  if (settings === 'never') return NEVER;
  const { ratio, parentBased } = settings;
  const threshold = Math.floor(ratio * RATIO_BITS);
  const description = `${parentBased ? 'parent-based ' : ''}ratio ${ratio}`;
  if (parentBased) {
    return {
      description,
      shouldSample: (traceId, parentSampled) =>
        parentSampled !== undefined ? parentSampled : ratio >= 1 || (ratio > 0 && ratioAccepts(traceId, threshold)),
    };
  }
  return { description, shouldSample: (traceId) => ratio >= 1 || (ratio > 0 && ratioAccepts(traceId, threshold)) };
}

/**
 * Per-route samplers over a default one. The lookup is asked once per route name and cached until the next
 * reconfigure, so a request pays one Map read.
 */
export class RouteSamplers {
  readonly #fallback: Sampler;
  readonly #lookup: ((routeName: string) => SamplerSettings | undefined) | undefined;
  readonly #cache = new Map<string, Sampler>();

  constructor(fallback: SamplerSettings, lookup: ((routeName: string) => SamplerSettings | undefined) | undefined) {
    this.#fallback = compileSampler(fallback);
    this.#lookup = lookup;
  }

  forRoute(routeName: string | undefined): Sampler {
    if (routeName === undefined || this.#lookup === undefined) return this.#fallback;
    let sampler = this.#cache.get(routeName);
    if (sampler === undefined) {
      const settings = this.#lookup(routeName);
      sampler = settings === undefined ? this.#fallback : compileSampler(settings);
      this.#cache.set(routeName, sampler);
    }
    return sampler;
  }
}

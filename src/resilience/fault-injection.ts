// Fault injection for resilience drills, as Envoy's fault filter: delay a share of a route's requests by a fixed
// time, abort a share with a given status, or both (the delay first, then the abort, as Envoy orders them). The
// injector is compiled once per snapshot; each decision is one random number and a comparison.

export interface FaultInjectionOptions {
  /** Delay `percent` % of requests by `ms` before forwarding. */
  delay?: { ms: number; percent: number };
  /** Answer `percent` % of requests with `status` instead of forwarding them. */
  abort?: { status: number; percent: number };
  /** Uniform random in [0, 1); injectable for tests. Default Math.random. */
  random?: () => number;
}

/**
 * @example
 * const faults = compileFaultInjection({ delay: { ms: 2000, percent: 10 }, abort: { status: 503, percent: 5 } });
 * // in the request phase, before forwarding:
 * const delay = faults?.delayMs() ?? 0;
 * if (delay > 0) await sleep(delay); // cancelled if the client goes away
 * const status = faults?.abortStatus() ?? 0;
 * if (status !== 0) return sendFault(res, status); // x-sluice-error: fault_injected
 */
export class FaultInjector {
  readonly #delayMs: number;
  readonly #delayShare: number;
  readonly #abortStatus: number;
  readonly #abortShare: number;
  readonly #random: () => number;

  constructor(options: FaultInjectionOptions) {
    this.#delayMs = options.delay?.ms ?? 0;
    this.#delayShare = share(options.delay?.percent);
    this.#abortStatus = options.abort?.status ?? 0;
    this.#abortShare = share(options.abort?.percent);
    this.#random = options.random ?? Math.random;
  }

  /** The delay for this request in ms; 0 for none. */
  delayMs(): number {
    return this.#delayShare > 0 && this.#random() < this.#delayShare ? this.#delayMs : 0;
  }

  /** The status to abort this request with; 0 to forward it. */
  abortStatus(): number {
    return this.#abortShare > 0 && this.#random() < this.#abortShare ? this.#abortStatus : 0;
  }
}

function share(percent: number | undefined): number {
  if (percent === undefined) return 0;
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`fault percentage must be in [0, 100], got ${percent}`);
  return percent / 100;
}

/** undefined when nothing is configured, so a route without faults pays nothing. */
export function compileFaultInjection(options: FaultInjectionOptions | undefined): FaultInjector | undefined {
  if (!options || (!options.delay && !options.abort)) return undefined;
  return new FaultInjector(options);
}

// An adaptive concurrency limit per upstream: a gradient limiter in the manner of Envoy's adaptive_concurrency
// filter and Netflix's concurrency-limits (Gradient2). It learns the round-trip time the upstream gives at low
// load (minRtt) and compares the recent RTT (sampleRtt, a percentile over a sample window) with it:
//
//   gradient = clamp(minRtt × (1 + buffer) / sampleRtt, 0.5, 2)
//   newLimit = limit × gradient + √(limit × gradient)        (the square root is queue headroom, as Envoy's)
//   limit    = (1 - smoothing) × limit + smoothing × newLimit, bounded to [minLimit, maxLimit]
//
// When the upstream queues, its latency rises above minRtt and the limit falls until it does not; requests over
// the limit are shed at once (503 overloaded) instead of waiting in an ever-growing queue. minRtt is
//  - lowered at once when a window's RTT is below it (the upstream got faster),
//  - re-measured by pinning the limit to minLimit for one window: every minRttIntervalMs (jittered), and as soon
//    as the gradient has sat at its floor for `recalibrateAfterWindows` windows (the upstream got slower: the
//    old minimum is no longer reachable, and the limit would otherwise stay at the floor),
//  - taken from the first window when nothing is known yet (no shedding at startup).
// The limit grows only when the window's peak concurrency used at least half of it: an idle limiter has no
// evidence that the upstream can take more. tryAcquire/release allocate nothing; the limiter is its own token.

export interface AdaptiveConcurrencyOptions {
  /** Limit before anything is learnt. Default 20. */
  initialLimit?: number;
  /** Floor of the limit, and the concurrency at which minRtt is measured. Default 3. */
  minLimit?: number;
  /** Ceiling of the limit. Default 1000. */
  maxLimit?: number;
  /** Shortest sample window, ms. Default 100. */
  sampleWindowMs?: number;
  /** Samples a window needs before it closes (it stays open longer when traffic is thin). Default 10. */
  minSamples?: number;
  /** Percentile of a window's RTTs taken as its sampleRtt, in (0, 1]. Default 0.5. */
  percentile?: number;
  /** Latency above minRtt tolerated without lowering the limit, percent. Default 25. */
  bufferPercent?: number;
  /** Weight of a new limit against the old one, (0, 1]. Default 0.5. */
  smoothing?: number;
  /** Time between minRtt re-measurements, ms; 0 re-measures only when stuck. Default 60 000. */
  minRttIntervalMs?: number;
  /** ± spread of that interval, percent, so instances do not re-measure in step. Default 15. */
  minRttJitterPercent?: number;
  /** Consecutive windows with the gradient at its floor that trigger a re-measurement. Default 5. */
  recalibrateAfterWindows?: number;
  /** Clock in ms; injectable for tests. Default performance.now. */
  now?: () => number;
  /** Uniform random in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
}

/** Held by an admitted request; release it exactly once with the request's RTT and whether it succeeded. */
export interface ConcurrencyToken {
  /**
   * rttMs: time from dispatch to the end of the response (or to the response head, consistently). ok=false for
   * failures (reset, refused, 5xx): their RTT says nothing about queueing (a refused connection is fast), so it
   * is not sampled; the slot is freed all the same.
   */
  release(rttMs: number, ok: boolean): void;
}

export interface AdaptiveConcurrencyStats {
  limit: number;
  inFlight: number;
  minRttMs: number | undefined;
  sampleRttMs: number | undefined;
  /** true while minRtt is being re-measured (limit pinned to minLimit). */
  measuring: boolean;
  /** Requests refused since creation. */
  shed: number;
}

const MAX_SAMPLES = 1024;
const GRADIENT_MIN = 0.5;
const GRADIENT_MAX = 2;

/**
 * @example
 * const limiter = new AdaptiveConcurrencyLimiter({ minLimit: 3, maxLimit: 500 });
 * const token = limiter.tryAcquire();
 * if (!token) return sendError(res, 'overloaded', requestId);
 * const started = performance.now();
 * // ... when the exchange ends:
 * token.release(performance.now() - started, status < 500);
 */
export class AdaptiveConcurrencyLimiter implements ConcurrencyToken {
  readonly #minLimit: number;
  readonly #maxLimit: number;
  readonly #windowMs: number;
  readonly #minSamples: number;
  readonly #percentile: number;
  readonly #buffer: number;
  readonly #smoothing: number;
  readonly #minRttInterval: number;
  readonly #jitter: number;
  readonly #recalibrateAfter: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #samples = new Float64Array(MAX_SAMPLES);
  readonly #scratch = new Float64Array(MAX_SAMPLES);
  #sampleCount = 0;
  #windowStart: number;
  #windowPeak = 0;
  #limit: number;
  /** Integer limit that tryAcquire compares against: floor(limit), or minLimit while measuring. */
  #effective: number;
  #inFlight = 0;
  #minRtt: number | undefined;
  #sampleRtt: number | undefined;
  #measuring = false;
  /** While measuring: samples count only once concurrency has drained to the pinned limit. */
  #drained = false;
  #limitBeforeMeasuring = 0;
  #nextMeasureAt: number;
  #floorWindows = 0;
  #shed = 0;

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    this.#minLimit = Math.max(1, Math.floor(options.minLimit ?? 3));
    this.#maxLimit = Math.max(this.#minLimit, Math.floor(options.maxLimit ?? 1000));
    this.#windowMs = options.sampleWindowMs ?? 100;
    this.#minSamples = Math.min(MAX_SAMPLES, Math.max(1, options.minSamples ?? 10));
    this.#percentile = options.percentile ?? 0.5;
    if (!(this.#percentile > 0 && this.#percentile <= 1)) throw new RangeError('percentile must be in (0, 1]');
    this.#buffer = (options.bufferPercent ?? 25) / 100;
    this.#smoothing = options.smoothing ?? 0.5;
    if (!(this.#smoothing > 0 && this.#smoothing <= 1)) throw new RangeError('smoothing must be in (0, 1]');
    this.#minRttInterval = options.minRttIntervalMs ?? 60_000;
    this.#jitter = (options.minRttJitterPercent ?? 15) / 100;
    this.#recalibrateAfter = Math.max(1, options.recalibrateAfterWindows ?? 5);
    this.#now = options.now ?? performance.now.bind(performance);
    this.#random = options.random ?? Math.random;
    this.#limit = clamp(options.initialLimit ?? 20, this.#minLimit, this.#maxLimit);
    this.#effective = Math.floor(this.#limit);
    this.#windowStart = this.#now();
    this.#nextMeasureAt = this.#scheduleMeasure(this.#windowStart);
  }

  /** The concurrency allowed right now. */
  get limit(): number {
    return this.#effective;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  stats(): AdaptiveConcurrencyStats {
    return {
      limit: this.#effective,
      inFlight: this.#inFlight,
      minRttMs: this.#minRtt,
      sampleRttMs: this.#sampleRtt,
      measuring: this.#measuring,
      shed: this.#shed,
    };
  }

  /** A token when under the limit; undefined means shed the request (503 overloaded). */
  tryAcquire(): ConcurrencyToken | undefined {
    if (this.#inFlight >= this.#effective) {
      this.#shed++;
      return undefined;
    }
    if (++this.#inFlight > this.#windowPeak) this.#windowPeak = this.#inFlight;
    return this;
  }

  release(rttMs: number, ok: boolean): void {
    if (this.#inFlight > 0) this.#inFlight--;
    if (this.#measuring && !this.#drained) {
      // Requests admitted before the pin ran at higher concurrency: their RTT is not a low-load RTT.
      if (this.#inFlight >= this.#effective) return;
      this.#drained = true;
      this.#sampleCount = 0;
      this.#windowStart = this.#now();
      return;
    }
    if (ok && rttMs >= 0) {
      this.#samples[this.#sampleCount % MAX_SAMPLES] = rttMs;
      this.#sampleCount++;
    }
    if (this.#sampleCount >= this.#minSamples) {
      const now = this.#now();
      if (now - this.#windowStart >= this.#windowMs) this.#endWindow(now);
    }
  }

  #endWindow(now: number): void {
    const sampleRtt = this.#windowPercentile();
    this.#sampleRtt = sampleRtt;
    const peak = this.#windowPeak;
    this.#sampleCount = 0;
    this.#windowStart = now;
    this.#windowPeak = this.#inFlight;

    if (this.#measuring) {
      this.#minRtt = sampleRtt;
      this.#measuring = false;
      this.#floorWindows = 0;
      this.#limit = this.#limitBeforeMeasuring;
      this.#effective = Math.floor(this.#limit);
      this.#nextMeasureAt = this.#scheduleMeasure(now);
      return;
    }
    if (this.#minRtt === undefined || sampleRtt < this.#minRtt) this.#minRtt = sampleRtt;

    const gradient = clamp((this.#minRtt * (1 + this.#buffer)) / sampleRtt, GRADIENT_MIN, GRADIENT_MAX);
    let target: number;
    if (gradient > 1 && peak * 2 < this.#limit) {
      target = this.#limit; // not using the limit: no evidence the upstream can take more
    } else {
      const scaled = this.#limit * gradient;
      target = scaled + Math.sqrt(scaled);
    }
    this.#limit = clamp((1 - this.#smoothing) * this.#limit + this.#smoothing * target, this.#minLimit, this.#maxLimit);
    this.#effective = Math.floor(this.#limit);

    this.#floorWindows = gradient <= GRADIENT_MIN ? this.#floorWindows + 1 : 0;
    const due = this.#minRttInterval > 0 && now >= this.#nextMeasureAt;
    if (due || this.#floorWindows >= this.#recalibrateAfter) this.#startMeasuring();
  }

  #startMeasuring(): void {
    this.#measuring = true;
    this.#limitBeforeMeasuring = this.#limit;
    this.#effective = this.#minLimit;
    this.#drained = this.#inFlight < this.#minLimit;
  }

  #scheduleMeasure(now: number): number {
    if (this.#minRttInterval <= 0) return Infinity;
    return now + this.#minRttInterval * (1 - this.#jitter + 2 * this.#jitter * this.#random());
  }

  /** The configured percentile of the window's samples (the latest MAX_SAMPLES of them), sorted in scratch. */
  #windowPercentile(): number {
    const n = Math.min(this.#sampleCount, MAX_SAMPLES);
    const scratch = this.#scratch;
    for (let i = 0; i < n; i++) scratch[i] = this.#samples[i]!;
    const view = scratch.subarray(0, n).sort();
    return view[Math.min(n - 1, Math.ceil(this.#percentile * n) - 1)]!;
  }
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

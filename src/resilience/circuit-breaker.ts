// A circuit breaker for one upstream or one target: closed → open when the error rate over a sliding window
// (with a minimum request count) or a run of consecutive failures crosses its threshold; open fails fast until
// the open time has passed; half-open admits a few probes whose success closes it and whose failure reopens it.
// Kept in the long-lived upstream registry, so its state survives reloads. The hot path (tryAcquire, onResult)
// does a few integer operations on preallocated typed arrays and allocates nothing.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Length of the sliding error-rate window in ms. Default 10 000. */
  windowMs?: number;
  /** Buckets the window is divided into; the window slides one bucket at a time. Default 10. */
  buckets?: number;
  /** Requests the window must hold before the error rate may open the circuit. Default 20. */
  minRequests?: number;
  /** Error rate in percent (0-100] over the window that opens the circuit. Default 50. */
  failureRatePercent?: number;
  /** Consecutive failures that open the circuit regardless of the window; 0 disables. Default 5. */
  consecutiveFailures?: number;
  /** Time the circuit stays open before it admits probes, in ms. Default 30 000. */
  openMs?: number;
  /**
   * The open time doubles each time a half-open probe fails, up to this (ms). Default: openMs (no growth).
   * A target that keeps failing its probes is then probed less and less often.
   */
  maxOpenMs?: number;
  /** Probes admitted at once in half-open; that many successes close the circuit. Default 1. */
  halfOpenRequests?: number;
  /** Clock in ms; injectable for tests. Default performance.now. */
  now?: () => number;
}

export interface CircuitTransition {
  from: CircuitState;
  to: CircuitState;
  /** Why: 'failure-rate', 'consecutive-failures', 'open-elapsed', 'probe-succeeded', 'probe-failed', 'reset'. */
  reason: string;
  /** Clock value (options.now) when it happened. */
  at: number;
}

/** Counters for the admin API and metrics. */
export interface CircuitStats {
  state: CircuitState;
  requests: number;
  failures: number;
  consecutiveFailures: number;
  /** Clock value at which an open circuit admits probes; undefined unless open. */
  opensUntil: number | undefined;
}

const DEFAULTS = {
  windowMs: 10_000,
  buckets: 10,
  minRequests: 20,
  failureRatePercent: 50,
  consecutiveFailures: 5,
  openMs: 30_000,
  halfOpenRequests: 1,
} as const;

/**
 * The circuit breaker. Every `tryAcquire()` that returns true must be followed by exactly one `onResult(ok)` (or
 * `onCancel()` when the request ended without a verdict).
 *
 * @example
 * const breaker = new CircuitBreaker({ consecutiveFailures: 5, openMs: 30_000 });
 * breaker.onTransition((t) => log.warn(t, 'circuit ' + t.to));
 * if (!breaker.tryAcquire()) return sendError(res, 'circuit_open', id, { headers: { 'retry-after': String(breaker.retryAfterSeconds()) } });
 * // ... forward, then:
 * breaker.onResult(status < 500);
 */
export class CircuitBreaker {
  readonly #bucketMs: number;
  readonly #minRequests: number;
  readonly #failureRate: number;
  readonly #consecutiveLimit: number;
  readonly #openMs: number;
  readonly #maxOpenMs: number;
  readonly #halfOpenRequests: number;
  readonly #now: () => number;
  /** Per bucket: requests, failures, and the bucket number (floor(now / bucketMs)) the counts belong to. */
  readonly #requests: Uint32Array;
  readonly #failures: Uint32Array;
  readonly #epoch: Float64Array;
  #totalRequests = 0;
  #totalFailures = 0;
  #consecutive = 0;
  #state: CircuitState = 'closed';
  #openUntil = 0;
  #currentOpenMs: number;
  #probesInFlight = 0;
  #probeSuccesses = 0;
  readonly #listeners: Array<(t: CircuitTransition) => void> = [];

  constructor(options: CircuitBreakerOptions = {}) {
    const windowMs = options.windowMs ?? DEFAULTS.windowMs;
    const buckets = options.buckets ?? DEFAULTS.buckets;
    if (!(windowMs > 0) || !Number.isInteger(buckets) || buckets < 1) throw new RangeError('windowMs must be > 0 and buckets an integer >= 1');
    this.#bucketMs = windowMs / buckets;
    this.#minRequests = Math.max(1, options.minRequests ?? DEFAULTS.minRequests);
    this.#failureRate = (options.failureRatePercent ?? DEFAULTS.failureRatePercent) / 100;
    this.#consecutiveLimit = options.consecutiveFailures ?? DEFAULTS.consecutiveFailures;
    this.#openMs = options.openMs ?? DEFAULTS.openMs;
    this.#maxOpenMs = Math.max(this.#openMs, options.maxOpenMs ?? this.#openMs);
    this.#currentOpenMs = this.#openMs;
    this.#halfOpenRequests = Math.max(1, options.halfOpenRequests ?? DEFAULTS.halfOpenRequests);
    this.#now = options.now ?? performance.now.bind(performance);
    this.#requests = new Uint32Array(buckets);
    this.#failures = new Uint32Array(buckets);
    this.#epoch = new Float64Array(buckets).fill(-1);
  }

  /** The current state; an open circuit whose open time has passed reads as half-open. */
  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() >= this.#openUntil) this.#transition('half-open', 'open-elapsed');
    return this.#state;
  }

  /**
   * Whether a request may go through now. false while open (answer 503 circuit_open) and while half-open with
   * every probe slot taken. A true answer in half-open makes this request a probe.
   */
  tryAcquire(): boolean {
    const state = this.#state;
    if (state === 'closed') return true;
    if (state === 'open') {
      if (this.#now() < this.#openUntil) return false;
      this.#transition('half-open', 'open-elapsed');
    }
    if (this.#probesInFlight >= this.#halfOpenRequests) return false;
    this.#probesInFlight++;
    return true;
  }

  /**
   * The outcome of a request admitted by tryAcquire: ok=false for what the upstream is to blame for (connect
   * failure, reset, timeout, 5xx as the owner decides). Results of requests admitted before the circuit opened
   * are ignored while it is open, and in half-open only as many results as probes count.
   */
  onResult(ok: boolean): void {
    const state = this.#state;
    if (state === 'closed') {
      this.#record(ok);
      return;
    }
    if (state === 'open' || this.#probesInFlight === 0) return;
    this.#probesInFlight--;
    if (!ok) {
      this.#currentOpenMs = Math.min(this.#currentOpenMs * 2, this.#maxOpenMs);
      this.#open('probe-failed');
      return;
    }
    if (++this.#probeSuccesses >= this.#halfOpenRequests) {
      this.#currentOpenMs = this.#openMs;
      this.#transition('closed', 'probe-succeeded');
    }
  }

  /**
   * An admitted request ended without a verdict on the upstream (the client left first, or Sluice itself could
   * not build the request): nothing is recorded, but a half-open probe slot it held is freed, so the circuit is
   * not left waiting forever for a result that will never come.
   */
  onCancel(): void {
    if (this.#state === 'half-open' && this.#probesInFlight > 0) this.#probesInFlight--;
  }

  /** Seconds a client should wait before trying again (Retry-After, RFC 9110 §10.2.3): at least 1. */
  retryAfterSeconds(): number {
    if (this.#state !== 'open') return 1;
    return Math.max(1, Math.ceil((this.#openUntil - this.#now()) / 1000));
  }

  /** Calls `listener` on every state change (for logs, metrics, the admin API). Returns an unsubscribe function. */
  onTransition(listener: (transition: CircuitTransition) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  stats(): CircuitStats {
    const state = this.state;
    this.#advance(this.#now());
    return {
      state,
      requests: this.#totalRequests,
      failures: this.#totalFailures,
      consecutiveFailures: this.#consecutive,
      opensUntil: state === 'open' ? this.#openUntil : undefined,
    };
  }

  /** Back to closed with an empty window (an operator's manual reset). */
  reset(): void {
    this.#clearWindow();
    this.#currentOpenMs = this.#openMs;
    if (this.#state !== 'closed') this.#transition('closed', 'reset');
  }

  #record(ok: boolean): void {
    const now = this.#now();
    const i = this.#advance(now);
    this.#requests[i]!++;
    this.#totalRequests++;
    if (ok) {
      this.#consecutive = 0;
      return;
    }
    this.#failures[i]!++;
    this.#totalFailures++;
    this.#consecutive++;
    if (this.#consecutiveLimit > 0 && this.#consecutive >= this.#consecutiveLimit) {
      this.#open('consecutive-failures');
    } else if (this.#totalRequests >= this.#minRequests && this.#totalFailures >= this.#failureRate * this.#totalRequests) {
      this.#open('failure-rate');
    }
  }

  /** Drops buckets that fell out of the window; returns the index of the bucket `now` falls in. */
  #advance(now: number): number {
    const epoch = Math.floor(now / this.#bucketMs);
    const n = this.#epoch.length;
    const i = epoch % n;
    if (this.#epoch[i] === epoch) return i;
    // Every bucket older than the window is cleared; at most n of them, so a long idle spell costs n steps once.
    for (let k = 0; k < n; k++) {
      const e = this.#epoch[k]!;
      if (e >= 0 && e <= epoch - n) this.#clearBucket(k);
    }
    this.#clearBucket(i);
    this.#epoch[i] = epoch;
    return i;
  }

  #clearBucket(k: number): void {
    this.#totalRequests -= this.#requests[k]!;
    this.#totalFailures -= this.#failures[k]!;
    this.#requests[k] = 0;
    this.#failures[k] = 0;
    this.#epoch[k] = -1;
  }

  #clearWindow(): void {
    this.#requests.fill(0);
    this.#failures.fill(0);
    this.#epoch.fill(-1);
    this.#totalRequests = 0;
    this.#totalFailures = 0;
    this.#consecutive = 0;
  }

  #open(reason: string): void {
    this.#openUntil = this.#now() + this.#currentOpenMs;
    this.#transition('open', reason);
  }

  #transition(to: CircuitState, reason: string): void {
    const from = this.#state;
    this.#state = to;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    // A closed circuit starts from a clean window: the failures that opened it must not reopen it at once.
    if (to === 'closed') this.#clearWindow();
    if (this.#listeners.length === 0) return;
    const transition: CircuitTransition = { from, to, reason, at: this.#now() };
    for (const listener of this.#listeners) listener(transition);
  }
}

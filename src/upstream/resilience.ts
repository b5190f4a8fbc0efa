// The resilience state of one upstream that must outlive a snapshot: its circuit breakers (the upstream's own and
// one per target), outlier detection and adaptive concurrency limit. UpstreamRegistry keeps one per upstream name;
// a reload reconfigures only the parts whose settings changed, so an open breaker stays open and an ejected target
// stays ejected across an unrelated reload. This class also keeps the targets' `ejected` and `circuitOpen` flags
// (and so `healthy`, which balancers read) current, and reports every transition once.
import type { UpstreamConfig } from '../config/schema.ts';
import { AdaptiveConcurrencyLimiter, type AdaptiveConcurrencyStats } from '../resilience/adaptive-concurrency.ts';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState, type CircuitTransition } from '../resilience/circuit-breaker.ts';
import { adaptiveConcurrencyOptions, circuitBreakerOptions, outlierDetectionOptions } from '../resilience/from-config.ts';
import { OutlierDetector, type OutlierEvent } from '../resilience/outlier-detection.ts';
import { updateHealth, type UpstreamTarget } from './target.ts';

export interface CircuitChange {
  upstream: string;
  /** The target whose breaker changed; absent for the upstream's own breaker. */
  target?: string;
  from: CircuitState;
  to: CircuitState;
  reason: string;
}

export interface OutlierChange {
  upstream: string;
  target: string;
  ejected: boolean;
  reason: string;
  durationMs: number;
  timesEjected: number;
}

/** Where transitions are reported (the runtime logs them). */
export interface ResilienceEvents {
  onCircuitChange?: (change: CircuitChange) => void;
  onOutlierChange?: (change: OutlierChange) => void;
}

/**
 * What one attempt (or a whole exchange) came to: the response status, a failure the upstream is to blame for
 * (connect failure, reset, timeout, malformed answer), or undefined for no verdict (the client left first).
 */
export type AttemptResult = number | 'gateway-error' | undefined;

export interface CircuitReport {
  state: CircuitState;
  requests: number;
  failures: number;
  consecutiveFailures: number;
  /** While open: seconds until probes are admitted. */
  retryAfterSeconds?: number;
}

/** The last thing that happened to a target's passive health or circuit, for the admin API. */
export interface TargetEvent {
  what: 'ejected' | 'returned' | `circuit ${CircuitState}`;
  reason: string;
  at: string;
}

const GATEWAY_STATUSES = new Set([502, 503, 504]);

export class UpstreamResilience {
  readonly name: string;
  readonly #events: ResilienceEvents;
  /** The upstream's own breaker (scope upstream or both). */
  breaker: CircuitBreaker | undefined;
  /** One breaker per target id (scope target or both); empty when there are none. */
  readonly #targetBreakers = new Map<string, CircuitBreaker>();
  #targetBreakerOptions: CircuitBreakerOptions | undefined;
  #failOn5xx = false;
  outliers: OutlierDetector<string> | undefined;
  limiter: AdaptiveConcurrencyLimiter | undefined;
  /** The settings each part was built with, to rebuild only what a reload changed. */
  #keys = { breaker: '', outliers: '', limiter: '' };
  #targets: readonly UpstreamTarget[] = [];
  #returnTimer: NodeJS.Timeout | undefined;
  readonly #halfOpenTimers = new Map<string, NodeJS.Timeout>();
  readonly #lastEvent = new Map<string, TargetEvent>();

  constructor(name: string, events: ResilienceEvents) {
    this.name = name;
    this.#events = events;
  }

  /**
   * The snapshot holding `targets` went live with `config`. Parts whose settings changed are rebuilt (their state
   * starts over); the others keep theirs. Requests admitted by a replaced part release into the new one, which
   * clamps its counters at zero: a reload that retunes a limit is allowed that imprecision.
   */
  configure(config: UpstreamConfig, targets: readonly UpstreamTarget[]): void {
    this.#targets = targets;
    this.#configureBreakers(config.circuitBreaker);
    this.#configureOutliers(config.outlierDetection, targets);
    const limiterKey = JSON.stringify(config.adaptiveConcurrency ?? null);
    if (limiterKey !== this.#keys.limiter) {
      this.#keys.limiter = limiterKey;
      this.limiter = config.adaptiveConcurrency && new AdaptiveConcurrencyLimiter(adaptiveConcurrencyOptions(config.adaptiveConcurrency));
    }
    for (const target of targets) {
      target.ejected = this.outliers?.isEjected(target.id) ?? false;
      target.circuitOpen = this.#targetBreakers.get(target.id)?.state === 'open';
      updateHealth(target);
    }
  }

  #configureBreakers(config: UpstreamConfig['circuitBreaker']): void {
    const key = JSON.stringify(config ?? null);
    if (key === this.#keys.breaker) {
      // Same settings: only targets that joined get a breaker, and departed ones lose theirs.
      if (this.#targetBreakerOptions) this.#syncTargetBreakers();
      return;
    }
    this.#keys.breaker = key;
    this.#clearTargetBreakers();
    this.breaker = undefined;
    this.#targetBreakerOptions = undefined;
    if (!config) return;
    const options = circuitBreakerOptions(config);
    this.#failOn5xx = config.failOn === '5xx';
    if (config.scope !== 'target') {
      this.breaker = new CircuitBreaker(options);
      this.breaker.onTransition((t) => this.#events.onCircuitChange?.({ upstream: this.name, from: t.from, to: t.to, reason: t.reason }));
    }
    if (config.scope !== 'upstream') {
      this.#targetBreakerOptions = options;
      this.#syncTargetBreakers();
    }
  }

  #syncTargetBreakers(): void {
    const ids = new Set(this.#targets.map((t) => t.id));
    for (const id of this.#targetBreakers.keys()) if (!ids.has(id)) this.#dropTargetBreaker(id);
    for (const id of ids) {
      if (this.#targetBreakers.has(id)) continue;
      const breaker = new CircuitBreaker(this.#targetBreakerOptions);
      breaker.onTransition((t) => this.#onTargetCircuit(id, breaker, t));
      this.#targetBreakers.set(id, breaker);
    }
  }

  #clearTargetBreakers(): void {
    for (const id of [...this.#targetBreakers.keys()]) this.#dropTargetBreaker(id);
  }

  #dropTargetBreaker(id: string): void {
    this.#targetBreakers.delete(id);
    clearTimeout(this.#halfOpenTimers.get(id));
    this.#halfOpenTimers.delete(id);
  }

  #configureOutliers(config: UpstreamConfig['outlierDetection'], targets: readonly UpstreamTarget[]): void {
    const key = JSON.stringify(config ?? null);
    if (key !== this.#keys.outliers) {
      this.#keys.outliers = key;
      clearTimeout(this.#returnTimer);
      this.outliers = undefined;
      if (config) {
        this.outliers = new OutlierDetector<string>(outlierDetectionOptions(config));
        this.outliers.onChange(this.#onOutlier);
      }
    }
    this.outliers?.setTargets(targets.map((t) => t.id));
  }

  // ------------------------------------------------------------------ the request path

  /**
   * Upstream admission, once per exchange: the upstream's breaker, then its concurrency limit. undefined admits
   * the request, which must then be settled exactly once.
   */
  admit(): 'circuit_open' | 'overloaded' | undefined {
    const breaker = this.breaker;
    if (breaker !== undefined && !breaker.tryAcquire()) return 'circuit_open';
    if (this.limiter !== undefined && this.limiter.tryAcquire() === undefined) {
      breaker?.onCancel();
      return 'overloaded';
    }
    return undefined;
  }

  /** The end of an admitted exchange: its result, and the time to the response head (-1 when there was none). */
  settle(result: AttemptResult, headMs: number): void {
    if (this.breaker !== undefined) {
      if (result === undefined) this.breaker.onCancel();
      else this.breaker.onResult(!this.#isFailure(result));
    }
    if (this.limiter !== undefined) this.limiter.release(headMs, result !== undefined && !this.#isFailure(result) && headMs >= 0);
  }

  /** Seconds until the upstream's breaker admits probes (Retry-After of a 503 circuit_open). */
  retryAfterSeconds(): number {
    return this.breaker?.retryAfterSeconds() ?? 1;
  }

  /** Whether the target's own breaker admits this attempt; true admits it, and onAttemptEnd must follow. */
  admitTarget(target: UpstreamTarget): boolean {
    if (this.#targetBreakerOptions === undefined) return true;
    const breaker = this.#targetBreakers.get(target.id);
    return breaker === undefined || breaker.tryAcquire();
  }

  /** Seconds until the first of these targets' breakers admits probes. */
  targetRetryAfterSeconds(targets: readonly UpstreamTarget[]): number {
    let seconds = Infinity;
    for (const t of targets) seconds = Math.min(seconds, this.#targetBreakers.get(t.id)?.retryAfterSeconds() ?? 1);
    return seconds === Infinity ? 1 : seconds;
  }

  /** One attempt at `target` ended: feeds outlier detection and the target's breaker. */
  onAttemptEnd(target: UpstreamTarget, result: AttemptResult): void {
    if (result !== undefined) this.outliers?.onResult(target.id, result);
    if (this.#targetBreakerOptions === undefined) return;
    const breaker = this.#targetBreakers.get(target.id);
    if (breaker === undefined) return;
    if (result === undefined) breaker.onCancel();
    else breaker.onResult(!this.#isFailure(result));
  }

  #isFailure(result: number | 'gateway-error'): boolean {
    if (result === 'gateway-error') return true;
    return this.#failOn5xx ? result >= 500 : GATEWAY_STATUSES.has(result);
  }

  // ------------------------------------------------------------------ transitions

  #onTargetCircuit(id: string, breaker: CircuitBreaker, t: CircuitTransition): void {
    if (this.#targetBreakers.get(id) !== breaker) return; // a breaker replaced by a reload
    for (const target of this.#targets) {
      if (target.id !== id) continue;
      target.circuitOpen = t.to === 'open';
      updateHealth(target);
    }
    this.#lastEvent.set(id, { what: `circuit ${t.to}`, reason: t.reason, at: new Date().toISOString() });
    clearTimeout(this.#halfOpenTimers.get(id));
    this.#halfOpenTimers.delete(id);
    if (t.to === 'open') this.#armHalfOpen(id, breaker);
    this.#events.onCircuitChange?.({ upstream: this.name, target: id, from: t.from, to: t.to, reason: t.reason });
  }

  /**
   * An open target is not picked, so nothing would ask its breaker for probes: reading its state once the open time
   * is up moves it to half-open, which makes the target pickable again. libuv's timers may fire a little before the
   * breaker's clock says the time is up; then it waits again.
   */
  #armHalfOpen(id: string, breaker: CircuitBreaker): void {
    const wait = Math.max(1, (breaker.stats().opensUntil ?? 0) - performance.now() + 1);
    const timer = setTimeout(() => {
      this.#halfOpenTimers.delete(id);
      if (breaker.state === 'open' && this.#targetBreakers.get(id) === breaker) this.#armHalfOpen(id, breaker);
    }, wait);
    timer.unref();
    this.#halfOpenTimers.set(id, timer);
  }

  #onOutlier = (e: OutlierEvent<string>): void => {
    for (const target of this.#targets) {
      if (target.id !== e.target) continue;
      target.ejected = e.ejected;
      updateHealth(target);
    }
    this.#lastEvent.set(e.target, { what: e.ejected ? 'ejected' : 'returned', reason: e.reason, at: new Date().toISOString() });
    this.#events.onOutlierChange?.({ upstream: this.name, target: e.target, ...pick(e) });
    if (e.ejected) this.#scheduleReturn();
  };

  /** Ejections end by time; a timer at the earliest end makes the target pickable again (and reports it). */
  #scheduleReturn(): void {
    clearTimeout(this.#returnTimer);
    const outliers = this.outliers;
    const at = outliers?.nextReturnAt();
    if (outliers === undefined || at === undefined) return;
    this.#returnTimer = setTimeout(() => {
      outliers.ejectedCount(); // ends elapsed ejections, which reports them through #onOutlier
      if (outliers === this.outliers) this.#scheduleReturn();
    }, Math.max(0, at - Date.now()) + 1);
    this.#returnTimer.unref();
  }

  // ------------------------------------------------------------------ admin API

  upstreamCircuit(): CircuitReport | undefined {
    return this.breaker && circuitReport(this.breaker);
  }

  targetCircuit(id: string): CircuitReport | undefined {
    const breaker = this.#targetBreakers.get(id);
    return breaker && circuitReport(breaker);
  }

  ejection(id: string): { ejected: boolean; until?: string; timesEjected: number } | undefined {
    const state = this.outliers?.states().find((s) => s.target === id);
    if (!state) return undefined;
    return { ejected: state.ejected, ...(state.ejectedUntil ? { until: new Date(state.ejectedUntil).toISOString() } : {}), timesEjected: state.timesEjected };
  }

  lastEvent(id: string): TargetEvent | undefined {
    return this.#lastEvent.get(id);
  }

  adaptiveConcurrency(): AdaptiveConcurrencyStats | undefined {
    return this.limiter?.stats();
  }

  stop(): void {
    clearTimeout(this.#returnTimer);
    this.#clearTargetBreakers();
  }
}

function pick(e: OutlierEvent<string>): Omit<OutlierChange, 'upstream' | 'target'> {
  return { ejected: e.ejected, reason: e.reason, durationMs: e.durationMs, timesEjected: e.timesEjected };
}

function circuitReport(breaker: CircuitBreaker): CircuitReport {
  const s = breaker.stats();
  const report: CircuitReport = { state: s.state, requests: s.requests, failures: s.failures, consecutiveFailures: s.consecutiveFailures };
  if (s.state === 'open') report.retryAfterSeconds = breaker.retryAfterSeconds();
  return report;
}

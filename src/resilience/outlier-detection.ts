// Passive health checking (outlier detection), after Envoy's: a target whose live traffic fails N times in a row
// (gateway errors, or any 5xx) is ejected for baseEjectionTime × the number of times it has been ejected (capped),
// never more than maxEjectionPercent of the targets at once. Ejections end by time: isEjected() is a comparison,
// nothing has to run for a target to come back. State is keyed by a stable target identity (its URL), so it
// survives reloads and rebuilt targets; keep one detector per upstream in the long-lived registry.

/** What a finished attempt tells the detector: a response status, or a failure before any status. */
export type OutlierResult = number | 'gateway-error';

export interface OutlierDetectionOptions {
  /** Consecutive 5xx (and gateway errors) that eject a target; 0 disables. Default 5. */
  consecutive5xx?: number;
  /** Consecutive gateway errors (connect failure, reset, timeout, 502/503/504) that eject; 0 disables. Default 5. */
  consecutiveGatewayErrors?: number;
  /** Ejection time for a first ejection, ms; the n-th ejection lasts n times this. Default 30 000. */
  baseEjectionMs?: number;
  /** Longest ejection, ms. Default 300 000. */
  maxEjectionMs?: number;
  /**
   * Most targets ejected at once, in percent of the upstream's targets. At least one target may always be
   * ejected (as Envoy does), so two-target upstreams can still shed a bad one. Default 50.
   */
  maxEjectionPercent?: number;
  /** Clock in ms; injectable for tests. Default Date.now. */
  now?: () => number;
}

export interface OutlierEvent<K> {
  target: K;
  ejected: boolean;
  /** 'consecutive-5xx' | 'consecutive-gateway-errors' on ejection, 'ejection-elapsed' on return. */
  reason: string;
  /** How long this ejection lasts (ms); 0 on return. */
  durationMs: number;
  timesEjected: number;
}

interface TargetState {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Clock value until which the target is ejected; 0 when not ejected. */
  ejectedUntil: number;
  timesEjected: number;
  /** When the last ejection ended; the multiplier decays by one per baseEjectionMs spent healthy since. */
  returnedAt: number;
}

/**
 * @example
 * const outliers = new OutlierDetector<string>({ consecutiveGatewayErrors: 5 });
 * outliers.setTargets(upstream.targets.map((t) => t.id));
 * outliers.onChange((e) => log.warn(e, e.ejected ? 'target ejected' : 'target returned'));
 * // when an attempt ends:
 * outliers.onResult(target.id, failedBeforeResponse ? 'gateway-error' : status);
 * // when picking: skip targets for which outliers.isEjected(target.id) is true (unless panicking)
 */
export class OutlierDetector<K = string> {
  readonly #consecutive5xx: number;
  readonly #consecutiveGateway: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #maxPercent: number;
  readonly #now: () => number;
  readonly #targets = new Map<K, TargetState>();
  readonly #listeners: Array<(event: OutlierEvent<K>) => void> = [];
  #ejected = 0;

  constructor(options: OutlierDetectionOptions = {}) {
    this.#consecutive5xx = options.consecutive5xx ?? 5;
    this.#consecutiveGateway = options.consecutiveGatewayErrors ?? 5;
    this.#baseMs = options.baseEjectionMs ?? 30_000;
    this.#maxMs = Math.max(this.#baseMs, options.maxEjectionMs ?? 300_000);
    this.#maxPercent = options.maxEjectionPercent ?? 50;
    this.#now = options.now ?? Date.now;
  }

  /** The upstream's current targets: new ones start clean, state of departed ones is dropped. */
  setTargets(targets: Iterable<K>): void {
    const keep = new Set(targets);
    for (const key of this.#targets.keys()) if (!keep.has(key)) this.#targets.delete(key);
    for (const key of keep) if (!this.#targets.has(key)) this.#targets.set(key, freshState());
    this.#ejected = 0;
    for (const state of this.#targets.values()) if (state.ejectedUntil !== 0) this.#ejected++;
  }

  /** Calls `listener` on every ejection and return. Returns an unsubscribe function. */
  onChange(listener: (event: OutlierEvent<K>) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** Records one finished attempt. Unknown targets (not in setTargets) are ignored. */
  onResult(target: K, result: OutlierResult): void {
    const state = this.#targets.get(target);
    if (state === undefined) return;
    const gateway = result === 'gateway-error' || result === 502 || result === 503 || result === 504;
    if (!gateway && (result as number) < 500) {
      state.consecutive5xx = 0;
      state.consecutiveGateway = 0;
      return;
    }
    // An ejected target still finishing old requests should not extend its ejection.
    if (this.isEjected(target)) return;
    state.consecutive5xx++;
    if (gateway) state.consecutiveGateway++;
    else state.consecutiveGateway = 0;
    if (this.#consecutiveGateway > 0 && state.consecutiveGateway >= this.#consecutiveGateway) {
      this.#eject(target, state, 'consecutive-gateway-errors');
    } else if (this.#consecutive5xx > 0 && state.consecutive5xx >= this.#consecutive5xx) {
      this.#eject(target, state, 'consecutive-5xx');
    }
  }

  /** Whether the target is ejected at `now`; an ejection whose time has passed ends here. */
  isEjected(target: K, now?: number): boolean {
    const state = this.#targets.get(target);
    if (state === undefined || state.ejectedUntil === 0) return false;
    // The clock is read only for ejected targets: the common case costs one Map lookup.
    now ??= this.#now();
    if (now < state.ejectedUntil) return true;
    state.ejectedUntil = 0;
    state.returnedAt = now;
    state.consecutive5xx = 0;
    state.consecutiveGateway = 0;
    this.#ejected--;
    this.#emit({ target, ejected: false, reason: 'ejection-elapsed', durationMs: 0, timesEjected: state.timesEjected });
    return false;
  }

  /** Targets ejected right now (ends elapsed ejections as a side effect). */
  ejectedCount(now = this.#now()): number {
    for (const key of this.#targets.keys()) this.isEjected(key, now);
    return this.#ejected;
  }

  /** Clock value when the earliest current ejection ends, to schedule a sweep; undefined when none. */
  nextReturnAt(): number | undefined {
    let next: number | undefined;
    for (const state of this.#targets.values()) {
      if (state.ejectedUntil !== 0 && (next === undefined || state.ejectedUntil < next)) next = state.ejectedUntil;
    }
    return next;
  }

  /** Per-target state for the admin API. */
  states(now = this.#now()): Array<{ target: K; ejected: boolean; ejectedUntil: number | undefined; timesEjected: number }> {
    return [...this.#targets].map(([target, s]) => {
      const ejected = this.isEjected(target, now);
      return { target, ejected, ejectedUntil: ejected ? s.ejectedUntil : undefined, timesEjected: s.timesEjected };
    });
  }

  #eject(target: K, state: TargetState, reason: string): void {
    const now = this.#now();
    const allowed = Math.max(1, Math.floor((this.#targets.size * this.#maxPercent) / 100));
    // Count only ejections still running; elapsed ones end here.
    if (this.ejectedCount(now) >= allowed) return;
    if (state.timesEjected > 0 && state.returnedAt > 0) {
      const decay = Math.floor((now - state.returnedAt) / this.#baseMs);
      state.timesEjected = Math.max(0, state.timesEjected - decay);
    }
    state.timesEjected++;
    const durationMs = Math.min(this.#maxMs, this.#baseMs * state.timesEjected);
    state.ejectedUntil = now + durationMs;
    state.consecutive5xx = 0;
    state.consecutiveGateway = 0;
    this.#ejected++;
    this.#emit({ target, ejected: true, reason, durationMs, timesEjected: state.timesEjected });
  }

  #emit(event: OutlierEvent<K>): void {
    for (const listener of this.#listeners) listener(event);
  }
}

function freshState(): TargetState {
  return { consecutive5xx: 0, consecutiveGateway: 0, ejectedUntil: 0, timesEjected: 0, returnedAt: 0 };
}

/**
 * Envoy's panic threshold: when fewer than `thresholdPercent` of the targets are healthy (active health and not
 * ejected), health is ignored and traffic goes to every target — better some errors than piling the whole load
 * onto the few survivors, or failing everything. thresholdPercent 0 never panics.
 *
 * @example
 * const panic = shouldPanic(healthy, upstream.targets.length, 50);
 * const target = panic ? pickIgnoringHealth() : pickHealthy();
 */
export function shouldPanic(healthyCount: number, total: number, thresholdPercent: number): boolean {
  return total > 0 && healthyCount * 100 < total * thresholdPercent;
}

// Load shedding for Sluice itself, before it falls over: too many requests in flight, an event loop that lags
// (every request already in the process is then slow), or a heap near its limit (GC thrash, then an OOM kill).
// The expensive signals (event-loop delay histogram, heap statistics) are read by a timer every sampleIntervalMs
// and cached; a request pays one counter comparison and one field read. Shedding answers 503 `overloaded` early,
// before routing work is spent on a request that would only make things worse.
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** Why a request was shed; stable strings, used as a metric label. */
export type ShedReason = 'max_in_flight' | 'event_loop_delay' | 'heap';

export interface OverloadOptions {
  /** Most requests in flight in this process; 0 disables. Default 0. */
  maxInFlight?: number;
  /** Shed while the event loop's p99 delay over the last sample exceeds this, ms; 0 disables. Default 0. */
  maxEventLoopDelayMs?: number;
  /** Shed while the used heap exceeds this share of the heap limit, percent; 0 disables. Default 0. */
  maxHeapPercent?: number;
  /** How often the loop delay and heap are read, ms. Default 100. */
  sampleIntervalMs?: number;
  /** Readers, injectable for tests: the loop's delay in ms since the last read, and the heap use in percent. */
  readEventLoopDelayMs?: () => number;
  readHeapPercent?: () => number;
}

/**
 * @example
 * const overload = new OverloadGuard({ maxInFlight: 10_000, maxEventLoopDelayMs: 200, maxHeapPercent: 90 });
 * overload.start();
 * // per request, first thing:
 * const reason = overload.shouldShed();
 * if (reason) { metrics.shed.inc({ reason }); return sendError(res, 'overloaded', requestId); }
 * overload.requestStarted(); res.once('close', () => overload.requestFinished());
 */
export class OverloadGuard {
  readonly #maxInFlight: number;
  readonly #maxLoopDelay: number;
  readonly #maxHeap: number;
  readonly #intervalMs: number;
  readonly #readLoopDelay: (() => number) | undefined;
  readonly #readHeap: () => number;
  #histogram: ELDHistogram | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** How late the sampling timer ran since the last sample, ms. */
  #lateMs = 0;
  #inFlight = 0;
  /** The reason found by the last sample, or undefined. */
  #sampled: ShedReason | undefined;
  /** Requests shed, by reason (counted by shouldShed). */
  readonly shed: Record<ShedReason, number> = { max_in_flight: 0, event_loop_delay: 0, heap: 0 };
  /** Last values read, for the admin API and metrics. */
  eventLoopDelayMs = 0;
  heapPercent = 0;

  constructor(options: OverloadOptions = {}) {
    this.#maxInFlight = options.maxInFlight ?? 0;
    this.#maxLoopDelay = options.maxEventLoopDelayMs ?? 0;
    this.#maxHeap = options.maxHeapPercent ?? 0;
    this.#intervalMs = options.sampleIntervalMs ?? 100;
    this.#readLoopDelay = options.readEventLoopDelayMs;
    this.#readHeap = options.readHeapPercent ?? heapPercent;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Starts sampling (a no-op when neither loop delay nor heap is limited). Idempotent. */
  start(): void {
    if (this.#timer || (this.#maxLoopDelay <= 0 && this.#maxHeap <= 0)) return;
    if (this.#maxLoopDelay > 0 && !this.#readLoopDelay) {
      this.#histogram = monitorEventLoopDelay({ resolution: 10 });
      this.#histogram.enable();
    }
    let tickAt = performance.now();
    this.#timer = setInterval(() => {
      // The sampling timer's own lateness is a loop-delay reading too, and one that cannot miss a stall: when this
      // timer runs before the histogram's next tick, the reset below would otherwise drop the stall it measured.
      const now = performance.now();
      this.#lateMs = Math.max(this.#lateMs, now - tickAt - this.#intervalMs);
      tickAt = now;
      this.sample();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram?.disable();
    this.#histogram = undefined;
  }

  /** Reads the loop delay and heap now and updates the cached verdict (the timer calls this). */
  sample(): void {
    if (this.#maxLoopDelay > 0) this.eventLoopDelayMs = this.#loopDelay();
    if (this.#maxHeap > 0) this.heapPercent = this.#readHeap();
    if (this.#maxLoopDelay > 0 && this.eventLoopDelayMs > this.#maxLoopDelay) this.#sampled = 'event_loop_delay';
    else if (this.#maxHeap > 0 && this.heapPercent > this.#maxHeap) this.#sampled = 'heap';
    else this.#sampled = undefined;
  }

  /** Why this request should be shed (and counted as shed), or undefined to serve it. Cheap: no clock, no syscall. */
  shouldShed(): ShedReason | undefined {
    const reason = this.#maxInFlight > 0 && this.#inFlight >= this.#maxInFlight ? 'max_in_flight' : this.#sampled;
    if (reason !== undefined) this.shed[reason]++;
    return reason;
  }

  requestStarted(): void {
    this.#inFlight++;
  }

  requestFinished(): void {
    if (this.#inFlight > 0) this.#inFlight--;
  }

  #loopDelay(): number {
    if (this.#readLoopDelay) return this.#readLoopDelay();
    const late = this.#lateMs;
    this.#lateMs = 0;
    const h = this.#histogram;
    if (!h || h.count === 0) return late;
    // The histogram is in ns; p99 since the last sample, then start over so one stall is not remembered forever.
    const p99 = h.percentile(99) / 1e6;
    h.reset();
    return Math.max(p99, late);
  }
}

function heapPercent(): number {
  const { used_heap_size, heap_size_limit } = getHeapStatistics();
  return (used_heap_size / heap_size_limit) * 100;
}

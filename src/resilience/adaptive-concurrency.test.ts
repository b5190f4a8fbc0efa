import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdaptiveConcurrencyLimiter, type AdaptiveConcurrencyOptions } from './adaptive-concurrency.ts';

function limiterWithClock(options: AdaptiveConcurrencyOptions = {}) {
  const clock = { t: 0 };
  const limiter = new AdaptiveConcurrencyLimiter({ now: () => clock.t, random: () => 0.5, minRttIntervalMs: 0, ...options });
  return { clock, limiter };
}

/**
 * One sample window: `concurrency` requests admitted together, then released with `rtt` one by one over the
 * window, so the window closes with the last of them.
 */
function window(l: AdaptiveConcurrencyLimiter, clock: { t: number }, rtt: number, concurrency = l.limit, windowMs = 100): void {
  const tokens = [];
  for (let i = 0; i < concurrency; i++) {
    const token = l.tryAcquire();
    if (token) tokens.push(token);
  }
  const start = clock.t;
  tokens.forEach((token, i) => {
    clock.t = start + ((i + 1) * windowMs) / tokens.length;
    token.release(rtt, true);
  });
  clock.t = start + windowMs;
}

describe('AdaptiveConcurrencyLimiter', () => {
  test('admits up to the limit, sheds beyond it, and a release frees a slot', () => {
    const { limiter } = limiterWithClock({ initialLimit: 3 });
    const tokens = [limiter.tryAcquire(), limiter.tryAcquire(), limiter.tryAcquire()];
    assert.ok(tokens.every(Boolean));
    assert.equal(limiter.tryAcquire(), undefined);
    tokens[0]!.release(10, true);
    assert.ok(limiter.tryAcquire());
    assert.equal(limiter.stats().shed, 1);
  });

  test('learns minRtt from the first window and keeps the limit while latency stays there', () => {
    const { limiter, clock } = limiterWithClock({ initialLimit: 20, minSamples: 5 });
    window(limiter, clock, 10, 8);
    assert.equal(limiter.stats().minRttMs, 10);
    for (let i = 0; i < 20; i++) window(limiter, clock, 10, 8); // 8 in flight of 20: app-limited
    assert.equal(limiter.limit, 20);
  });

  test('grows while the upstream keeps its latency under load', () => {
    const { limiter, clock } = limiterWithClock({ initialLimit: 10, minSamples: 5 });
    window(limiter, clock, 10);
    for (let i = 0; i < 10; i++) window(limiter, clock, 10);
    assert.ok(limiter.limit > 30, `limit ${limiter.limit}`);
  });

  test('rising latency lowers the limit down to minLimit', () => {
    const { limiter, clock } = limiterWithClock({ initialLimit: 100, minLimit: 5, minSamples: 5, recalibrateAfterWindows: 100 });
    window(limiter, clock, 10);
    const before = limiter.limit;
    window(limiter, clock, 40);
    assert.ok(limiter.limit < before, `${limiter.limit} < ${before}`);
    for (let i = 0; i < 30; i++) window(limiter, clock, 40);
    assert.equal(limiter.limit, 5);
  });

  test('a window faster than minRtt lowers minRtt at once', () => {
    const { limiter, clock } = limiterWithClock({ minSamples: 5 });
    window(limiter, clock, 50);
    window(limiter, clock, 20);
    assert.equal(limiter.stats().minRttMs, 20);
  });

  test('stuck at the gradient floor, it re-measures minRtt at minLimit and adopts the slower baseline', () => {
    const { limiter, clock } = limiterWithClock({ initialLimit: 40, minLimit: 4, minSamples: 4, recalibrateAfterWindows: 3 });
    window(limiter, clock, 10);
    for (let i = 0; i < 3; i++) window(limiter, clock, 100); // ten times slower: gradient at its floor
    const stats = limiter.stats();
    assert.equal(stats.measuring, true);
    assert.equal(limiter.limit, 4, 'pinned to minLimit while measuring');
    window(limiter, clock, 100, 4);
    assert.equal(limiter.stats().measuring, false);
    assert.equal(limiter.stats().minRttMs, 100);
    assert.ok(limiter.limit > 4, 'the limit from before the measurement is restored');
  });

  test('while measuring, RTTs of requests admitted before the pin are not taken as the new minimum', () => {
    const { limiter, clock } = limiterWithClock({ initialLimit: 40, minLimit: 2, minSamples: 2, recalibrateAfterWindows: 1 });
    window(limiter, clock, 10);
    const old = Array.from({ length: 10 }, () => limiter.tryAcquire()!);
    window(limiter, clock, 100, 4); // floor window: starts measuring with 10 old requests in flight
    assert.equal(limiter.stats().measuring, true);
    clock.t += 100;
    for (const token of old) token.release(500, true); // slow, high-concurrency RTTs: skipped
    window(limiter, clock, 30, 2);
    assert.equal(limiter.stats().minRttMs, 30);
  });

  test('re-measures periodically, with jitter', () => {
    const { limiter, clock } = limiterWithClock({ minSamples: 2, minRttIntervalMs: 1000, minRttJitterPercent: 10, random: () => 1 - 1e-9 });
    // Due at 1000 × (1 + 10 % jitter at its top) = 1100 ms after the start, not at 1000 ms.
    while (clock.t < 1050) window(limiter, clock, 10, 5, 50);
    assert.equal(limiter.stats().measuring, false);
    while (clock.t < 1100) window(limiter, clock, 10, 5, 50);
    assert.equal(limiter.stats().measuring, true);
  });

  test('failed requests free their slot but are not sampled', () => {
    const { limiter, clock } = limiterWithClock({ initialLimit: 5, minSamples: 1 });
    const token = limiter.tryAcquire()!;
    clock.t += 200;
    token.release(1, false);
    assert.equal(limiter.inFlight, 0);
    assert.equal(limiter.stats().minRttMs, undefined);
  });
});

// A deterministic simulation: Poisson arrivals at 1000 rps into an upstream that serves 20 requests at once
// without queueing (latency = base), and beyond that slows down in proportion (latency = base × n / 20, n its
// concurrency when the request arrives). Phase 1: base 10 ms (capacity 2000 rps). Phase 2: base 100 ms, ten
// times slower (capacity 200 rps: 80 % of the offered load must be shed). Phase 3: base 10 ms again.
describe('AdaptiveConcurrencyLimiter in a simulated slowdown', () => {
  interface Phase {
    admitted: number;
    shed: number;
    latencies: number[];
    minLimit: number;
  }

  function simulate(useLimiter: boolean) {
    let seed = 42;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const clock = { t: 0 };
    const limiter = new AdaptiveConcurrencyLimiter({ now: () => clock.t, random, initialLimit: 20, minLimit: 3, maxLimit: 1000 });
    const PHASE_MS = 20_000;
    const SETTLE_MS = 5_000;
    const capacity = 20;
    const base = (t: number) => (t >= PHASE_MS && t < 2 * PHASE_MS ? 100 : 10);
    const phases: Phase[] = [0, 1, 2].map(() => ({ admitted: 0, shed: 0, latencies: [], minLimit: Infinity }));
    // Completion times in a binary min-heap, each with its RTT.
    const heap: Array<[number, number]> = [];
    const push = (item: [number, number]) => {
      heap.push(item);
      for (let i = heap.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (heap[p]![0] <= heap[i]![0]) break;
        [heap[p], heap[i]] = [heap[i]!, heap[p]!];
        i = p;
      }
    };
    const pop = (): [number, number] => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && heap[l]![0] < heap[m]![0]) m = l;
          if (r < heap.length && heap[r]![0] < heap[m]![0]) m = r;
          if (m === i) break;
          [heap[m], heap[i]] = [heap[i]!, heap[m]!];
          i = m;
        }
      }
      return top;
    };
    let nextArrival = 0;
    while (nextArrival < 3 * PHASE_MS) {
      if (heap.length > 0 && heap[0]![0] <= nextArrival) {
        const [t, rtt] = pop();
        clock.t = t;
        if (useLimiter) limiter.release(rtt, true);
        continue;
      }
      clock.t = nextArrival;
      nextArrival += -Math.log(1 - random()); // mean 1 ms
      const phaseIndex = Math.floor(clock.t / PHASE_MS);
      const phase = phases[phaseIndex]!;
      const counted = clock.t - phaseIndex * PHASE_MS >= SETTLE_MS;
      if (phaseIndex === 1) phase.minLimit = Math.min(phase.minLimit, limiter.limit);
      if (useLimiter && !limiter.tryAcquire()) {
        if (counted) phase.shed++;
        continue;
      }
      const n = heap.length + 1;
      const rtt = base(clock.t) * Math.max(1, n / capacity) * (0.9 + 0.2 * random());
      push([clock.t + rtt, rtt]);
      if (counted) {
        phase.admitted++;
        phase.latencies.push(rtt);
      }
    }
    const measuredS = (PHASE_MS - SETTLE_MS) / 1000;
    return phases.map((p) => ({
      throughput: p.admitted / measuredS,
      shedShare: p.shed / (p.admitted + p.shed),
      p99: p99(p.latencies),
      minLimit: p.minLimit,
    }));
  }

  function p99(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.ceil(0.99 * sorted.length) - 1] ?? 0;
  }

  test('10× slowdown: the limit drops, the excess is shed, p99 stays bounded; throughput returns on recovery', (t) => {
    const [normal, slow, recovered] = simulate(true);
    const [, unlimitedSlow] = simulate(false);
    t.diagnostic(`normal ${JSON.stringify(normal)}`);
    t.diagnostic(`slow ${JSON.stringify(slow)}`);
    t.diagnostic(`recovered ${JSON.stringify(recovered)}`);
    t.diagnostic(`slow without a limiter ${JSON.stringify(unlimitedSlow)}`);

    // Normal: nearly everything admitted at the upstream's own latency.
    assert.ok(normal!.throughput > 950, `normal throughput ${normal!.throughput}`);
    assert.ok(normal!.p99 < 15, `normal p99 ${normal!.p99}`);
    // Slow: the limit fell to its floor on the way, the upstream is kept busy near its capacity (200 rps),
    // the rest is shed, and the admitted requests' p99 stays within a small multiple of the new base latency.
    assert.ok(slow!.minLimit <= 5, `limit dropped to ${slow!.minLimit}`);
    assert.ok(slow!.throughput > 150 && slow!.throughput <= 210, `slow throughput ${slow!.throughput}`);
    assert.ok(slow!.shedShare > 0.75, `shed ${slow!.shedShare}`);
    assert.ok(slow!.p99 < 250, `slow p99 ${slow!.p99}`);
    // Without the limiter the queue grows without bound and so does latency.
    assert.ok(unlimitedSlow!.p99 > 20 * slow!.p99, `unlimited p99 ${unlimitedSlow!.p99}`);
    // Recovered: throughput back to the offered load, latency back to the fast base.
    assert.ok(recovered!.throughput > 950, `recovered throughput ${recovered!.throughput}`);
    assert.ok(recovered!.p99 < 15, `recovered p99 ${recovered!.p99}`);
  });
});

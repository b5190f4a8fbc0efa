// Shared by the balancer tests only: plain targets and a seeded random source, so every run sees the same numbers.
import type { BalancerTarget } from './types.ts';

export interface TestTarget extends BalancerTarget {
  readonly name: string;
}

/** One target per name, weight from `weights` (default 1), healthy and idle. */
export function makeTargets(names: readonly string[], weights: readonly number[] = []): TestTarget[] {
  return names.map((name, i) => ({
    name,
    id: `http://${name}.test:80${10 + i}`,
    weight: weights[i] ?? 1,
    inFlight: 0,
    healthy: true,
  }));
}

/** mulberry32: a tiny, well-mixed 32-bit PRNG; deterministic for a given seed. Returns numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct-looking client IPv4 addresses from a seeded source. */
export function randomKeys(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = Math.floor(random() * 2 ** 32);
    keys.push(`${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  }
  return keys;
}

/** How many picks each target received, by name. */
export function tally<T extends TestTarget>(picks: readonly (T | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of picks) {
    const name = t?.name ?? 'undefined';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

// Consistent hashing with Maglev (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
// NSDI 2016, §3.4). Every target owns a permutation of the slots of a prime-sized lookup table; targets take turns
// claiming their next free preferred slot until the table is full. A request hashes its key to one slot: O(1).
// Each target ends up with an almost equal share of slots (weighted here), and adding or removing a target changes
// few slots besides the ones it gains or loses, so most keys keep their target.
import { roundRobin } from './round-robin.ts';
import type { BalancerTarget, LoadBalancer, PickContext } from './types.ts';

/** Options for {@link consistentHash}. */
export interface ConsistentHashOptions {
  /**
   * Lookup table size, a prime at least the number of targets. Default 65537 (as Envoy's Maglev), or the first prime
   * >= 100 x targets for more than 655 targets: Maglev's balance and disruption bounds need M >> N.
   */
  tableSize?: number;
}

const DEFAULT_TABLE_SIZE = 65_537;
/** Slots per target the default table size keeps at least. */
const SLOTS_PER_TARGET = 100;
/** Slots probed past an unusable one before checking whether any target is usable at all. */
const PROBES_BEFORE_SCAN = 32;

// Seeds: target placement uses two independent hashes (offset, skip) as the paper asks; keys use two more (slot, and
// the probe stride when the slot's target is unusable).
const OFFSET_SEED = 0x9e3779b9;
const SKIP_SEED = 0x85ebca77;
const KEY_SEED = 0xc2b2ae3d;
const STRIDE_SEED = 0x27d4eb2f;

/**
 * A hash of `text` reduced to [0, range): FNV-1a over the UTF-16 code units, finished with murmur3's fmix32 so that
 * keys differing only in the last characters (10.0.0.1 / 10.0.0.2, :3001 / :3002) land far apart.
 * Written here, not node:crypto: createHash allocates a Hash object and a digest and crosses into C++ on every call
 * (around a microsecond), while this costs a few ns per character and allocates nothing; a balancer needs spread,
 * not collision resistance. The reduction happens inside so the result is a small integer: a full 32-bit hash
 * returned from a call would be boxed by V8 (a heap allocation per pick).
 */
function hashToRange(text: string, seed: number, range: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % range;
}

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

function defaultTableSize(targets: number): number {
  let size = Math.max(DEFAULT_TABLE_SIZE, targets * SLOTS_PER_TARGET);
  while (!isPrime(size)) size++;
  return size;
}

/**
 * Fills the Maglev lookup table: slot -> index into `targets`. Targets are visited in id order, so the table depends
 * on the set of targets and not on the order discovery listed them. Weights: each round every target earns
 * `weight / maxWeight` of a turn and claims one slot per whole turn earned, so the heaviest target claims a slot
 * every round and a target of half its weight every other round, interleaved rather than in bursts.
 */
function buildTable(targets: readonly BalancerTarget[], size: number): Uint16Array | Uint32Array {
  const n = targets.length;
  const order = Array.from(targets.keys()).sort((a, b) => {
    const x = targets[a]!.id;
    const y = targets[b]!.id;
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  const position = new Uint32Array(n); // the slot each target tries next: offset + j * skip (mod size)
  const skip = new Uint32Array(n);
  const credit = new Float64Array(n);
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const { id, weight } = targets[i]!;
    if (!(weight >= 1) || !Number.isFinite(weight)) throw new RangeError(`target ${id}: weight must be >= 1, got ${weight}`);
    position[i] = hashToRange(id, OFFSET_SEED, size);
    skip[i] = hashToRange(id, SKIP_SEED, size - 1) + 1; // 1..size-1: coprime with the prime size, a full cycle
    maxWeight = Math.max(maxWeight, weight);
  }
  const owner = new Int32Array(size).fill(-1);
  let filled = 0;
  while (filled < size) {
    for (let k = 0; k < n && filled < size; k++) {
      const i = order[k]!;
      credit[i]! += targets[i]!.weight;
      while (credit[i]! >= maxWeight && filled < size) {
        credit[i]! -= maxWeight;
        const step = skip[i]!;
        let slot = position[i]!;
        while (owner[slot] !== -1) {
          slot += step;
          if (slot >= size) slot -= size; // cheaper than %, and both are < size
        }
        owner[slot] = i;
        slot += step;
        position[i] = slot >= size ? slot - size : slot;
        filled++;
      }
    }
  }
  return n <= 0x10000 ? Uint16Array.from(owner) : Uint32Array.from(owner);
}

class MaglevBalancer<T extends BalancerTarget> implements LoadBalancer<T> {
  readonly #targets: readonly T[];
  readonly #table: Uint16Array | Uint32Array;
  /** Requests without a key are spread, not all sent to one slot. */
  readonly #unkeyed: LoadBalancer<T>;

  constructor(targets: readonly T[], tableSize: number) {
    this.#targets = Array.from(targets);
    this.#table = targets.length === 0 ? new Uint16Array(0) : buildTable(this.#targets, tableSize);
    this.#unkeyed = roundRobin(this.#targets);
  }

  pick(ctx?: PickContext): T | undefined {
    const key = ctx?.hashKey;
    if (key === undefined) return this.#unkeyed.pick(ctx);
    const table = this.#table;
    const size = table.length;
    if (size === 0) return undefined;
    const exclude = ctx?.exclude;
    let slot = hashToRange(key, KEY_SEED, size);
    let target = this.#targets[table[slot]!]!;
    if (target.healthy && target !== exclude) return target;
    // The key's own target is unusable: probe further slots with a stride taken from the key, so each orphaned key
    // lands on an effectively random slot and the orphans spread over the other targets by their share of the table
    // (stepping to the adjacent slot instead skews them, as neighbouring slots' owners are correlated by the fill).
    // Deterministic, and every other key keeps its target: no table rebuild on a health flap. The stride is in
    // [1, size) and size is prime, so the walk visits every slot.
    const stride = 1 + hashToRange(key, STRIDE_SEED, size - 1);
    for (let probe = 1; probe < size; probe++) {
      if (probe === PROBES_BEFORE_SCAN && !this.#anyUsable(exclude)) break;
      slot = (slot + stride) % size;
      target = this.#targets[table[slot]!]!;
      if (target.healthy && target !== exclude) return target;
    }
    // Nothing usable in the table: possibly a target too light to own a slot, else only the excluded one, or none.
    return this.#unkeyed.pick(ctx);
  }

  #anyUsable(exclude: BalancerTarget | undefined): boolean {
    const targets = this.#targets;
    for (let i = 0; i < targets.length; i++) if (targets[i]!.healthy && targets[i] !== exclude) return true;
    return false;
  }
}

/**
 * Consistent hashing by Maglev: the same `hashKey` reaches the same target while the target set is unchanged, and
 * changes to the set move few keys beyond the ones that must move. Weights scale a target's share of keys. When a
 * key's target is unhealthy or excluded only that target's keys move (to the others, by weight). Without a
 * `hashKey` it behaves like round-robin.
 *
 * @example
 * const lb = consistentHash(targets);
 * lb.pick({ hashKey: clientIp }); // the same target for this ip every time
 */
export function consistentHash<T extends BalancerTarget>(
  targets: readonly T[],
  options: ConsistentHashOptions = {},
): LoadBalancer<T> {
  const tableSize = options.tableSize ?? defaultTableSize(targets.length);
  if (!isPrime(tableSize) || tableSize < targets.length) {
    throw new RangeError(`consistent-hash tableSize must be a prime >= the number of targets (${targets.length}), got ${tableSize}`);
  }
  return new MaglevBalancer(targets, tableSize);
}

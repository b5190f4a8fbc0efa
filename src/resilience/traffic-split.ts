// Weighted traffic split across upstreams on one route: the canary rollout (5 % → 50 % → 100 % by changing a
// weight and reloading). Without a sticky key the split is smooth weighted round-robin (nginx's), so the share
// is exact over every sum(weights) requests rather than close on average. With a sticky key (a user id header, a
// cookie, the client address) the key's hash picks the side, so one user stays on one side; and since each side
// owns a contiguous range of the hash space in config order, raising the canary's weight only moves users *to*
// the canary (its range grows into the stable range), never back and forth.
import type { IncomingMessage } from 'node:http';
import { readCookie } from '../upstream/upstream.ts';

export interface SplitBackend<T> {
  value: T;
  /** Relative share, an integer >= 0; 0 takes no traffic (a canary at 0 %). */
  weight: number;
}

/** As config writes it: "client-ip", { header: NAME } or { cookie: NAME }. */
export type StickyOn = 'client-ip' | { header: string } | { cookie: string };

export type StickyKeyOf = (req: IncomingMessage, clientIp: string) => string | undefined;

/** 2^32, to map a 32-bit hash to [0, 1). */
const TWO_POW_32 = 4_294_967_296;

/**
 * @example
 * const split = new TrafficSplit([{ value: stable, weight: 95 }, { value: canary, weight: 5 }], { salt: route.name });
 * const upstream = split.pick(stickyKeyOf?.(req, clientIp));
 */
export class TrafficSplit<T> {
  readonly #values: readonly T[];
  readonly #weights: Float64Array;
  /** Cumulative weight: backend i owns [#bounds[i-1], #bounds[i]) of [0, total). */
  readonly #bounds: Float64Array;
  readonly #current: Float64Array;
  readonly #total: number;
  readonly #salt: string;

  constructor(backends: ReadonlyArray<SplitBackend<T>>, options: { salt?: string } = {}) {
    if (backends.length === 0) throw new RangeError('a traffic split needs at least one backend');
    this.#values = backends.map((b) => b.value);
    this.#weights = Float64Array.from(backends, (b) => {
      if (!(b.weight >= 0) || !Number.isFinite(b.weight)) throw new RangeError(`split weights must be >= 0, got ${b.weight}`);
      return b.weight;
    });
    this.#bounds = new Float64Array(backends.length);
    let total = 0;
    for (let i = 0; i < backends.length; i++) this.#bounds[i] = total += this.#weights[i]!;
    if (total <= 0) throw new RangeError('a traffic split needs a backend with a weight above 0');
    this.#total = total;
    this.#current = new Float64Array(backends.length);
    this.#salt = options.salt ?? '';
  }

  /** The backend for this request: by the sticky key's hash when given, else by smooth weighted round-robin. */
  pick(stickyKey?: string): T {
    return stickyKey === undefined ? this.#next() : this.#byHash(stickyKey);
  }

  #byHash(key: string): T {
    const point = (hash32(this.#salt, key) / TWO_POW_32) * this.#total;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) if (point < bounds[i]!) return this.#values[i]!;
    return this.#values[bounds.length - 1]!;
  }

  #next(): T {
    const weights = this.#weights;
    const current = this.#current;
    let best = -1;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i] === 0) continue;
      current[i]! += weights[i]!;
      if (best < 0 || current[i]! > current[best]!) best = i;
    }
    current[best]! -= this.#total;
    return this.#values[best]!;
  }
}

/**
 * FNV-1a over salt and key, finished with murmur3's fmix32: an unsigned 32-bit hash. The salt (the route name)
 * makes two routes' splits independent: a user on the canary side of one is not thereby on the canary side of all.
 */
function hash32(salt: string, key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0x1f, 0x01000193); // separator: ("ab", "c") and ("a", "bc") differ
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Compiles `stickyOn` once per snapshot into a key reader; a request without the key splits by weight. */
export function compileStickyKey(stickyOn: StickyOn): StickyKeyOf {
  if (stickyOn === 'client-ip') return (_req, clientIp) => clientIp;
  if ('header' in stickyOn) {
    const name = stickyOn.header.toLowerCase();
    return function stickyHeader(req) {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
  }
  const cookie = stickyOn.cookie;
  return function stickyCookie(req) {
    return readCookie(req.headers.cookie, cookie);
  };
}

// An upstream as one snapshot sees it: its targets, its balancer, how to derive the consistent-hash key, and its
// long-lived resilience state. Picking honours the panic threshold: when too few targets are healthy, health is
// ignored and every target takes traffic (Envoy's panic mode) rather than the survivors taking all of it.
import type { IncomingMessage } from 'node:http';
import type { UpstreamConfig } from '../config/schema.ts';
import { shouldPanic } from '../resilience/outlier-detection.ts';
import { createLoadBalancer } from './balancers/index.ts';
import type { BalancerTarget, LoadBalancer, PickContext } from './balancers/types.ts';
import type { UpstreamResilience } from './resilience.ts';
import { UpstreamTarget } from './target.ts';

export type HashKeyOf = (req: IncomingMessage, clientIp: string) => string | undefined;

export class Upstream {
  readonly name: string;
  readonly config: UpstreamConfig;
  /**
   * The targets new requests choose from. Static targets are set once; a discovered upstream's are replaced in
   * place (setTargets) when discovery finds a change, with no reload. Either way a request reads them once per
   * pick, so the static path costs nothing more.
   */
  targets: readonly UpstreamTarget[];
  #balancer: LoadBalancer<UpstreamTarget>;
  /** Undefined unless the balancer hashes, so other policies pay nothing for key extraction. */
  readonly hashKeyOf: HashKeyOf | undefined;
  /** Breakers, outlier detection, adaptive limit; undefined when the upstream configures none of them. */
  readonly resilience: UpstreamResilience | undefined;
  readonly #panicPercent: number;
  /** UpstreamTarget.healthEpoch when #panic was last computed. */
  #epoch = -1;
  #panic = false;
  /** The same policy over stand-ins that always read healthy; built the first time the upstream panics. */
  #panicBalancer: LoadBalancer<PanicTarget> | undefined;
  #standIns: Map<UpstreamTarget, PanicTarget> | undefined;

  constructor(config: UpstreamConfig, targets: readonly UpstreamTarget[], resilience?: UpstreamResilience) {
    this.name = config.name;
    this.config = config;
    this.targets = targets;
    this.#balancer = createLoadBalancer(config.loadBalancer, targets);
    this.hashKeyOf = config.loadBalancer === 'consistent-hash' ? hashKeyExtractor(config.hashOn) : undefined;
    // Decided by the config, not resilience.active: the registry configures the state when the snapshot goes live.
    const guarded = config.circuitBreaker !== undefined || config.outlierDetection !== undefined || config.adaptiveConcurrency !== undefined;
    this.resilience = guarded ? resilience : undefined;
    this.#panicPercent = config.panicThresholdPercent;
  }

  /**
   * Replaces the targets for the requests that pick from now on (requests in flight keep the target they have).
   * The balancer is rebuilt over the new list; the registry owns the targets' pools and health.
   */
  setTargets(targets: readonly UpstreamTarget[]): void {
    this.targets = targets;
    this.#balancer = createLoadBalancer(this.config.loadBalancer, targets);
    this.#epoch = -1;
    this.#panicBalancer = undefined;
    this.#standIns = undefined;
  }

  /** The balancer's target, among the healthy ones unless the upstream panics; undefined when none is usable. */
  pickTarget(ctx?: PickContext): UpstreamTarget | undefined {
    if (this.#epoch !== UpstreamTarget.healthEpoch) this.#updatePanic();
    if (!this.#panic) return this.#balancer.pick(ctx);
    return this.#pickIgnoringHealth(ctx);
  }

  /** Whether health is being ignored because too few targets are healthy. */
  get panicking(): boolean {
    if (this.#epoch !== UpstreamTarget.healthEpoch) this.#updatePanic();
    return this.#panic;
  }

  #updatePanic(): void {
    this.#epoch = UpstreamTarget.healthEpoch;
    if (this.#panicPercent <= 0) return;
    let healthy = 0;
    for (const t of this.targets) if (t.healthy) healthy++;
    this.#panic = shouldPanic(healthy, this.targets.length, this.#panicPercent);
  }

  #pickIgnoringHealth(ctx: PickContext | undefined): UpstreamTarget | undefined {
    if (this.#panicBalancer === undefined) {
      this.#standIns = new Map(this.targets.map((t) => [t, new PanicTarget(t)]));
      this.#panicBalancer = createLoadBalancer(this.config.loadBalancer, [...this.#standIns.values()]);
    }
    const exclude = ctx?.exclude && this.#standIns!.get(ctx.exclude as UpstreamTarget);
    return this.#panicBalancer.pick(ctx && { hashKey: ctx.hashKey, exclude })?.target;
  }
}

/** A target as the panic balancer sees it: always healthy, its load read through to the real target. */
class PanicTarget implements BalancerTarget {
  readonly target: UpstreamTarget;
  readonly id: string;
  readonly weight: number;
  readonly healthy = true;

  constructor(target: UpstreamTarget) {
    this.target = target;
    this.id = target.id;
    this.weight = target.weight;
  }

  get inFlight(): number {
    return this.target.inFlight;
  }

  set inFlight(_value: number) {
    // The exchange counts on the real target.
  }
}

function hashKeyExtractor(hashOn: UpstreamConfig['hashOn']): HashKeyOf {
  if (hashOn === 'client-ip') return (_req, clientIp) => clientIp;
  if ('header' in hashOn) {
    const name = hashOn.header;
    return function headerKey(req) {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
  }
  const cookie = hashOn.cookie;
  return function cookieKey(req) {
    return readCookie(req.headers.cookie, cookie);
  };
}

/** The value of one cookie from a Cookie header (RFC 6265 §5.4 syntax: "a=1; b=2"). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

// Long-lived upstream state that must outlive a snapshot: targets, their connection pools, health and checkers,
// and each upstream's resilience state (breakers, outlier detection, adaptive limit). Snapshots acquire targets by
// key; a reload that keeps a target's settings gets the same object back, so its pool, in-flight count and health
// carry over. A target no snapshot holds any more is closed gracefully. An upstream whose targets come from
// discovery is fed by one long-lived source (kept across reloads while its settings are unchanged): each change it
// finds replaces the targets of every Upstream it feeds in place, for new requests, without a reload.
import type { TargetConfig, UpstreamConfig } from '../config/schema.ts';
import { createTargetSource, type DiscoveredTarget, type TargetSource } from '../discovery/index.ts';
import type { AdaptiveConcurrencyStats } from '../resilience/adaptive-concurrency.ts';
import { HealthChecker, type HealthChange } from './health-check.ts';
import { UpstreamResilience, type CircuitReport, type ResilienceEvents, type TargetEvent } from './resilience.ts';
import { UpstreamTarget, targetKey, updateHealth } from './target.ts';
import { Upstream } from './upstream.ts';

interface Held {
  target: UpstreamTarget;
  refs: number;
  checker: HealthChecker | undefined;
  /** The health-check settings the checker runs with, to restart it when a reload changes them. */
  checkKey: string;
}

/** One target as the admin API shows it (GET /api/v1/upstreams). */
export interface TargetReport {
  target: string;
  /** What decides whether it gets traffic, worst first: unhealthy (active checks), ejected, circuit-open. */
  state: 'healthy' | 'unhealthy' | 'ejected' | 'circuit-open';
  healthy: boolean;
  /** Why it is in that state (or what last happened to it). */
  reason?: string;
  inFlight: number;
  lastCheck?: HealthChecker['lastCheck'];
  circuit?: CircuitReport;
  ejection?: ReturnType<UpstreamResilience['ejection']>;
  lastEvent?: TargetEvent;
}

export interface UpstreamReport {
  name: string;
  healthyTargets: number;
  /** Too few targets are healthy: health is ignored and every target gets traffic. */
  panic: boolean;
  circuit?: CircuitReport;
  adaptiveConcurrency?: AdaptiveConcurrencyStats;
  discovery?: DiscoveryReport;
  targets: TargetReport[];
}

/** Discovery found new targets, or failed (the last known targets stay), or works again (neither field). */
export interface DiscoveryEvent {
  upstream: string;
  source: string;
  targets?: string[];
  error?: string;
}

export interface RegistryEvents extends ResilienceEvents {
  onHealthChange?: (change: HealthChange) => void;
  onDiscovery?: (event: DiscoveryEvent) => void;
}

/** A discovery source and the Upstream objects it feeds (one per snapshot holding that upstream). */
interface Fed {
  upstream: string;
  source: TargetSource;
  /** The last list found; undefined until the first. */
  known: DiscoveredTarget[] | undefined;
  upstreams: Set<Upstream>;
  updatedAt?: string;
  error?: string;
}

/** How a discovered upstream's targets are found, for the admin API. */
export interface DiscoveryReport {
  source: string;
  /** When the targets last changed. */
  updatedAt?: string;
  /** Why discovery is failing now (the targets shown are the last known). */
  error?: string;
}

export class UpstreamRegistry {
  readonly #targets = new Map<string, Held>();
  /** Last known active health by "upstream origin", so a target rebuilt with new settings keeps its state. */
  readonly #health = new Map<string, boolean>();
  readonly #onHealthChange: (change: HealthChange) => void;
  readonly #events: ResilienceEvents;
  /** Resilience state by upstream name, with the number of snapshots holding that upstream. */
  readonly #resilience = new Map<string, { state: UpstreamResilience; refs: number }>();
  /** The upstreams of the snapshot that went live last, for the admin API. */
  #live = new Map<string, Upstream>();
  /** Discovery sources by upstream name and discovery settings. */
  readonly #fed = new Map<string, Fed>();
  readonly #onDiscovery: (event: DiscoveryEvent) => void;

  constructor(events: RegistryEvents = {}) {
    this.#onHealthChange = events.onHealthChange ?? (() => {});
    this.#onDiscovery = events.onDiscovery ?? (() => {});
    this.#events = events;
  }

  /**
   * Builds the upstream for a new snapshot, reusing targets whose settings did not change. Health checking is
   * left as it is until activate(): a snapshot that never goes live (its listener could not bind) must not
   * change how the running one's targets are checked.
   */
  acquire(config: UpstreamConfig): Upstream {
    const fed = config.discovery === undefined ? undefined : this.#feed(config);
    const targets = (fed ? (fed.known ?? []) : config.targets).map((t) => this.#hold(config, t));
    let resilience = this.#resilience.get(config.name);
    if (!resilience) {
      resilience = { state: new UpstreamResilience(config.name, this.#events), refs: 0 };
      this.#resilience.set(config.name, resilience);
    }
    resilience.refs++;
    const upstream = new Upstream(config, targets, resilience.state);
    fed?.upstreams.add(upstream);
    return upstream;
  }

  /** The target for these settings, shared with every snapshot that has the same (one more reference). */
  #hold(config: UpstreamConfig, t: TargetConfig | DiscoveredTarget): UpstreamTarget {
    const key = targetKey(config, t);
    let held = this.#targets.get(key);
    if (!held) {
      const target = new UpstreamTarget(config, t, key);
      target.activeHealthy = this.#knownHealth(config.name, target.id);
      updateHealth(target);
      held = { target, refs: 0, checker: undefined, checkKey: '' };
      this.#targets.set(key, held);
    }
    held.refs++;
    return held.target;
  }

  /** One reference less; a target nobody holds any more stops being checked and its pool closes gracefully. */
  #drop(upstream: string, target: UpstreamTarget): Promise<void> | undefined {
    const held = this.#targets.get(target.key);
    if (!held || --held.refs > 0) return undefined;
    this.#targets.delete(target.key);
    held.checker?.stop();
    this.#health.set(`${upstream} ${target.id}`, target.activeHealthy);
    return target.pool.close().catch(() => target.pool.destroy());
  }

  /** The running discovery source for this upstream's settings, started on first use. */
  #feed(config: UpstreamConfig): Fed {
    const key = JSON.stringify([config.name, config.discovery]);
    let fed = this.#fed.get(key);
    if (fed) return fed;
    const source = createTargetSource(config.discovery!);
    // Discovery settings changed by a reload: until the new source answers, the old one's targets serve.
    const before = [...this.#fed.values()].find((f) => f.upstream === config.name);
    const created: Fed = { upstream: config.name, source, known: before?.known, upstreams: new Set() };
    this.#fed.set(key, created);
    source.start({
      targets: (list) => this.#retarget(created, list),
      error: (err) => {
        const error = err?.message;
        if (error === created.error) return;
        created.error = error;
        this.#onDiscovery({ upstream: config.name, source: source.description, ...(error === undefined ? {} : { error }) });
      },
    });
    fed = created;
    return fed;
  }

  /** Discovery found a new list: every Upstream it feeds takes it for new requests; targets that left close. */
  #retarget(fed: Fed, list: DiscoveredTarget[]): void {
    fed.known = list;
    fed.updatedAt = new Date().toISOString();
    for (const upstream of fed.upstreams) {
      const previous = upstream.targets;
      upstream.setTargets(list.map((t) => this.#hold(upstream.config, t)));
      if (this.#live.get(upstream.name) === upstream) this.#configure(upstream);
      for (const target of previous) void this.#drop(upstream.name, target);
    }
    this.#onDiscovery({ upstream: fed.upstream, source: fed.source.description, targets: list.map((t) => t.url) });
  }

  /**
   * The snapshot holding these upstreams went live: their targets are now checked, and their breakers, outlier
   * detection and limits configured, as its config says.
   */
  activate(upstreams: Iterable<Upstream>): void {
    this.#live = new Map();
    for (const upstream of upstreams) {
      this.#live.set(upstream.name, upstream);
      this.#configure(upstream);
    }
  }

  /** Breakers, outlier detection and limits over the upstream's current targets, and their health checks. */
  #configure(upstream: Upstream): void {
    this.#resilience.get(upstream.name)?.state.configure(upstream.config, upstream.targets);
    const checkKey = JSON.stringify(upstream.config.healthCheck ?? null);
    for (const target of upstream.targets) {
      const held = this.#targets.get(target.key);
      if (held && held.checkKey !== checkKey) this.#restartChecker(held, upstream.config, checkKey);
    }
  }

  #restartChecker(held: Held, config: UpstreamConfig, checkKey: string): void {
    held.checker?.stop();
    held.checkKey = checkKey;
    held.checker = undefined;
    if (!config.healthCheck) {
      held.target.activeHealthy = true; // nothing checks it any more: trust it again
      updateHealth(held.target);
      return;
    }
    held.checker = new HealthChecker(held.target, config.healthCheck, this.#onHealthChange);
    held.checker.start();
  }

  /** Health of a target being rebuilt (new weight or pool settings) carries over from its live or retired twin. */
  #knownHealth(upstream: string, id: string): boolean {
    for (const { target } of this.#targets.values()) {
      if (target.upstreamName === upstream && target.id === id) return target.activeHealthy;
    }
    return this.#health.get(`${upstream} ${id}`) ?? true;
  }

  /** Called when a snapshot is retired (drained); closes pools nobody uses any more. */
  async release(upstream: Upstream): Promise<void> {
    const resilience = this.#resilience.get(upstream.name);
    if (resilience && --resilience.refs === 0) {
      resilience.state.stop();
      this.#resilience.delete(upstream.name);
    }
    for (const [key, fed] of this.#fed) {
      if (!fed.upstreams.delete(upstream) || fed.upstreams.size > 0) continue;
      fed.source.stop();
      this.#fed.delete(key);
    }
    const closing: Promise<void>[] = [];
    for (const target of upstream.targets) {
      const closed = this.#drop(upstream.name, target);
      if (closed) closing.push(closed);
    }
    await Promise.all(closing);
  }

  /** The live upstreams with their targets' health, circuits and limits, for the admin API. */
  report(): UpstreamReport[] {
    return [...this.#live.values()].map((upstream) => {
      const resilience = this.#resilience.get(upstream.name)?.state;
      const targets = upstream.targets.map((target) => targetReport(target, this.#targets.get(target.key)?.checker, resilience));
      const report: UpstreamReport = {
        name: upstream.name,
        healthyTargets: targets.filter((t) => t.healthy).length,
        panic: upstream.panicking,
        targets,
      };
      const circuit = resilience?.upstreamCircuit();
      if (circuit) report.circuit = circuit;
      const adaptive = resilience?.adaptiveConcurrency();
      if (adaptive) report.adaptiveConcurrency = adaptive;
      const fed = [...this.#fed.values()].find((f) => f.upstreams.has(upstream));
      if (fed) {
        report.discovery = { source: fed.source.description };
        if (fed.updatedAt !== undefined) report.discovery.updatedAt = fed.updatedAt;
        if (fed.error !== undefined) report.discovery.error = fed.error;
      }
      return report;
    });
  }

  async destroy(): Promise<void> {
    for (const fed of this.#fed.values()) fed.source.stop();
    this.#fed.clear();
    for (const held of this.#targets.values()) held.checker?.stop();
    for (const { state } of this.#resilience.values()) state.stop();
    await Promise.all([...this.#targets.values()].map((h) => h.target.pool.destroy()));
    this.#targets.clear();
  }
}

function targetReport(target: UpstreamTarget, checker: HealthChecker | undefined, resilience: UpstreamResilience | undefined): TargetReport {
  const lastCheck = checker?.lastCheck;
  const lastEvent = resilience?.lastEvent(target.id);
  let state: TargetReport['state'] = 'healthy';
  let reason = lastEvent && `${lastEvent.what}: ${lastEvent.reason}`;
  if (!target.activeHealthy) {
    state = 'unhealthy';
    reason = `active health check: ${lastCheck?.reason ?? 'failing'}`;
  } else if (target.ejected) {
    state = 'ejected';
  } else if (target.circuitOpen) {
    state = 'circuit-open';
  }
  const report: TargetReport = { target: target.id, state, healthy: target.healthy, inFlight: target.inFlight };
  if (reason !== undefined) report.reason = reason;
  if (lastCheck) report.lastCheck = lastCheck;
  const circuit = resilience?.targetCircuit(target.id);
  if (circuit) report.circuit = circuit;
  const ejection = resilience?.ejection(target.id);
  if (ejection) report.ejection = ejection;
  if (lastEvent) report.lastEvent = lastEvent;
  return report;
}

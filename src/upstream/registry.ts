// Long-lived upstream state that must outlive a snapshot: targets, their connection pools, health and checkers,
// and each upstream's resilience state (breakers, outlier detection, adaptive limit). Snapshots acquire targets by
// key; a reload that keeps a target's settings gets the same object back, so its pool, in-flight count and health
// carry over. A target no snapshot holds any more is closed gracefully.
import type { UpstreamConfig } from '../config/schema.ts';
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
  targets: TargetReport[];
}

export interface RegistryEvents extends ResilienceEvents {
  onHealthChange?: (change: HealthChange) => void;
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

  constructor(events: RegistryEvents = {}) {
    this.#onHealthChange = events.onHealthChange ?? (() => {});
    this.#events = events;
  }

  /**
   * Builds the upstream for a new snapshot, reusing targets whose settings did not change. Health checking is
   * left as it is until activate(): a snapshot that never goes live (its listener could not bind) must not
   * change how the running one's targets are checked.
   */
  acquire(config: UpstreamConfig): Upstream {
    const targets = config.targets.map((t) => {
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
    });
    let resilience = this.#resilience.get(config.name);
    if (!resilience) {
      resilience = { state: new UpstreamResilience(config.name, this.#events), refs: 0 };
      this.#resilience.set(config.name, resilience);
    }
    resilience.refs++;
    return new Upstream(config, targets, resilience.state);
  }

  /**
   * The snapshot holding these upstreams went live: their targets are now checked, and their breakers, outlier
   * detection and limits configured, as its config says.
   */
  activate(upstreams: Iterable<Upstream>): void {
    this.#live = new Map();
    for (const upstream of upstreams) {
      this.#live.set(upstream.name, upstream);
      this.#resilience.get(upstream.name)?.state.configure(upstream.config, upstream.targets);
      const checkKey = JSON.stringify(upstream.config.healthCheck ?? null);
      for (const target of upstream.targets) {
        const held = this.#targets.get(target.key);
        if (held && held.checkKey !== checkKey) this.#restartChecker(held, upstream.config, checkKey);
      }
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
    const closing: Promise<void>[] = [];
    for (const target of upstream.targets) {
      const held = this.#targets.get(target.key);
      if (!held || --held.refs > 0) continue;
      this.#targets.delete(target.key);
      held.checker?.stop();
      this.#health.set(`${upstream.name} ${target.id}`, target.activeHealthy);
      closing.push(target.pool.close().catch(() => target.pool.destroy()));
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
      return report;
    });
  }

  async destroy(): Promise<void> {
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

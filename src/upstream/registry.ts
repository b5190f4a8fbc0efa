// Long-lived upstream state that must outlive a snapshot: targets, their connection pools, health and checkers.
// Snapshots acquire targets by key; a reload that keeps a target's settings gets the same object back, so its
// pool, in-flight count and health carry over. A target no snapshot holds any more is closed gracefully.
import type { UpstreamConfig } from '../config/schema.ts';
import { HealthChecker, type HealthChange } from './health-check.ts';
import { UpstreamTarget, targetKey } from './target.ts';
import { Upstream } from './upstream.ts';

interface Held {
  target: UpstreamTarget;
  refs: number;
  checker: HealthChecker | undefined;
  /** The health-check settings the checker runs with, to restart it when a reload changes them. */
  checkKey: string;
}

export interface TargetState {
  upstream: string;
  target: string;
  healthy: boolean;
  inFlight: number;
  lastCheck: HealthChecker['lastCheck'];
}

export class UpstreamRegistry {
  readonly #targets = new Map<string, Held>();
  /** Last known health by "upstream origin", so a target rebuilt with new settings keeps its state. */
  readonly #health = new Map<string, boolean>();
  readonly #onHealthChange: (change: HealthChange) => void;

  constructor(onHealthChange: (change: HealthChange) => void = () => {}) {
    this.#onHealthChange = onHealthChange;
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
        target.healthy = this.#knownHealth(config.name, target.id);
        held = { target, refs: 0, checker: undefined, checkKey: '' };
        this.#targets.set(key, held);
      }
      held.refs++;
      return held.target;
    });
    return new Upstream(config, targets);
  }

  /** The snapshot holding these upstreams went live: their targets are now checked as its config says. */
  activate(upstreams: Iterable<Upstream>): void {
    for (const upstream of upstreams) {
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
      held.target.healthy = true; // nothing checks it any more: trust it again
      return;
    }
    held.checker = new HealthChecker(held.target, config.healthCheck, this.#onHealthChange);
    held.checker.start();
  }

  /** Health of a target being rebuilt (new weight or pool settings) carries over from its live or retired twin. */
  #knownHealth(upstream: string, id: string): boolean {
    for (const { target } of this.#targets.values()) {
      if (target.upstreamName === upstream && target.id === id) return target.healthy;
    }
    return this.#health.get(`${upstream} ${id}`) ?? true;
  }

  /** Called when a snapshot is retired (drained); closes pools nobody uses any more. */
  async release(upstream: Upstream): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const target of upstream.targets) {
      const held = this.#targets.get(target.key);
      if (!held || --held.refs > 0) continue;
      this.#targets.delete(target.key);
      held.checker?.stop();
      this.#health.set(`${upstream.name} ${target.id}`, target.healthy);
      closing.push(target.pool.close().catch(() => target.pool.destroy()));
    }
    await Promise.all(closing);
  }

  /** Every live target with its state, for the admin API. */
  states(): TargetState[] {
    return [...this.#targets.values()].map(({ target, checker }) => ({
      upstream: target.upstreamName,
      target: target.id,
      healthy: target.healthy,
      inFlight: target.inFlight,
      lastCheck: checker?.lastCheck,
    }));
  }

  async destroy(): Promise<void> {
    for (const held of this.#targets.values()) held.checker?.stop();
    await Promise.all([...this.#targets.values()].map((h) => h.target.pool.destroy()));
    this.#targets.clear();
  }
}

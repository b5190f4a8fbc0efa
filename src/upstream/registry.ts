// Long-lived upstream state that must outlive a snapshot: targets, their connection pools and health.
// Snapshots acquire targets by key; a reload that keeps a target's settings gets the same object back, so its
// pool, in-flight count and health carry over. A target no snapshot holds any more is closed gracefully.
import type { UpstreamConfig } from '../config/schema.ts';
import { UpstreamTarget, targetKey } from './target.ts';
import { Upstream } from './upstream.ts';

interface Held { target: UpstreamTarget; refs: number }

export class UpstreamRegistry {
  readonly #targets = new Map<string, Held>();
  /** Last known health by "upstream origin", so a target rebuilt with new settings keeps its state. */
  readonly #health = new Map<string, boolean>();

  /** Builds the upstream for a new snapshot, reusing targets whose settings did not change. */
  acquire(config: UpstreamConfig): Upstream {
    const targets = config.targets.map((t) => {
      const key = targetKey(config, t);
      let held = this.#targets.get(key);
      if (!held) {
        held = { target: new UpstreamTarget(config, t, key), refs: 0 };
        held.target.healthy = this.#knownHealth(config.name, held.target.id);
        this.#targets.set(key, held);
      }
      held.refs++;
      return held.target;
    });
    return new Upstream(config, targets);
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
      this.#health.set(`${upstream.name} ${target.id}`, target.healthy);
      closing.push(target.pool.close().catch(() => target.pool.destroy()));
    }
    await Promise.all(closing);
  }

  /** Every live target, for health checks and the admin API. */
  *targets(): IterableIterator<UpstreamTarget> {
    for (const held of this.#targets.values()) yield held.target;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.#targets.values()].map((h) => h.target.pool.destroy()));
    this.#targets.clear();
  }
}

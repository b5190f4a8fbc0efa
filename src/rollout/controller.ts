// The rollout controller: on the instance that holds `rollout/lock`, once a second, judge the observing rollout
// (decide.ts) and carry out the verdict — promote (commit the candidate as the next version, in the transaction
// that ends the rollout) or roll back (end it without a version; the canaries return to the newest version).
// Each decision is an audit entry and a log line with its reason. Manual promote/abort go through the same two
// functions. The controller holds no state of its own: a new lock holder resumes from what etcd says.
import type { Logger } from '../observability/logger.ts';
import type { AuditEntry } from '../store/audit-log.ts';
import type { EtcdVersionStore } from '../store/etcd-version-store.ts';
import { decide, type Figures } from './decide.ts';
import type { EtcdRollouts, Observing } from './etcd-rollouts.ts';
import type { InstanceRecord, Rollout, RolloutDecision, RolloutResult } from './types.ts';

export interface ControllerOptions {
  rollouts: EtcdRollouts;
  store: EtcdVersionStore;
  /** This instance's id (the lock holder's name, and the audit actor rollout-controller@<id>). */
  instanceId: () => string;
  audit: (entry: AuditEntry) => Promise<void>;
  log: Logger;
}

export class RolloutController {
  readonly #o: ControllerOptions;

  constructor(options: ControllerOptions) {
    this.#o = options;
  }

  /** One round: only the lock holder judges; everyone else returns at once. */
  async round(observing: Observing, lease: string): Promise<void> {
    const me = this.#o.instanceId();
    if ((await this.#o.rollouts.lock(me, lease)) !== me) return;
    const live = new Map((await this.#o.rollouts.instances()).map((r): [string, InstanceRecord] => [r.id, r]));
    const verdict = decide(observing.rollout, live, Date.now());
    if (verdict.action === 'wait') return;
    const by = `rollout-controller@${me}`;
    if (verdict.action === 'promote') await this.promote(observing, by, verdict.reason, verdict.figures);
    else await this.rollBack(observing, by, verdict.reason, 'rollout.rollback', verdict.figures);
  }

  /** Commits the candidate as the next version and ends the rollout, in one etcd transaction. */
  async promote(observing: Observing, by: string, reason: string, figures?: Figures): Promise<RolloutResult> {
    const { rollout } = observing;
    const decision = (version: number): RolloutDecision => ({ action: 'promote', reason, by, at: new Date().toISOString(), version, ...figuresOf(figures) });
    let committed: number;
    try {
      const version = await this.#o.store.promoteRollout(
        { text: rollout.text, author: rollout.author, message: rollout.message, source: 'rollout' },
        rollout.baseVersion,
        { modRevision: observing.modRevision, finish: { key: this.#o.rollouts.finishedKey(rollout.id), value: (v) => JSON.stringify(ended(rollout, 'promoted', decision(v))) } },
      );
      committed = version.version;
    } catch (err) {
      const message = `cannot promote rollout ${rollout.id}: ${(err as Error).message}`;
      this.#o.log.error({ rollout: rollout.id, err: (err as Error).message }, 'rollout promotion failed');
      return { ok: false, code: 'store_failed', message };
    }
    await this.#o.rollouts.trimFinished();
    this.#o.log.info({ rollout: rollout.id, version: committed, by, reason }, 'rollout promoted');
    await this.#o.audit({ time: new Date().toISOString(), actor: by, action: 'rollout.promote', result: 'ok', version: committed, message: `rollout ${rollout.id} promoted as version ${committed}: ${reason}` });
    return { ok: true, rollout: ended(rollout, 'promoted', decision(committed)) };
  }

  /** Ends the rollout without a new version; its canaries go back to the newest version. */
  async rollBack(observing: Observing, by: string, reason: string, action: 'rollout.rollback' | 'rollout.abort', figures?: Figures): Promise<RolloutResult> {
    const { rollout } = observing;
    const done = ended(rollout, 'rolled-back', { action: 'rollback', reason, by, at: new Date().toISOString(), ...figuresOf(figures) });
    if (!(await this.#o.rollouts.finish(observing, done))) return { ok: false, code: 'version_conflict', message: `rollout ${rollout.id} ended meanwhile (see GET /api/v1/rollouts/current)` };
    this.#o.log.warn({ rollout: rollout.id, version: rollout.baseVersion, by, reason }, 'rollout rolled back');
    await this.#o.audit({ time: new Date().toISOString(), actor: by, action, result: 'ok', version: rollout.baseVersion, message: `rollout ${rollout.id} rolled back: ${reason}` });
    return { ok: true, rollout: done };
  }
}

function ended(rollout: Rollout, state: Rollout['state'], decision: RolloutDecision): Rollout {
  return { ...rollout, state, decision };
}

function figuresOf(figures: Figures | undefined): Partial<RolloutDecision> {
  if (!figures) return {};
  return { requests: figures.requests, errorRate: figures.errorRate, ...(figures.p99 === undefined ? {} : { p99: figures.p99 }) };
}

// The admin API's side of staged rollouts (admin/rollout-routes.ts calls it): start one, show how it stands, list
// finished ones, list the fleet, and end one by hand. Starting picks the canaries from the live instances and
// writes `rollout/current` in one transaction that also requires `config/latest` unchanged and no rollout
// observing; from then on the instances and the controller take over (fleet-member.ts, controller.ts).
import { randomBytes } from 'node:crypto';
import type { ConfigStore } from '../store/version-store.ts';
import { sha256 } from '../store/version-store.ts';
import type { RolloutController } from './controller.ts';
import { decide, figuresOf } from './decide.ts';
import type { EtcdRollouts } from './etcd-rollouts.ts';
import { selectCanaries } from './select.ts';
import type { CanaryView, InstanceRecord, Rollout, RolloutAdmin, RolloutRequest, RolloutResult, RolloutStatus, WindowStats } from './types.ts';

export class RolloutService implements RolloutAdmin {
  readonly #rollouts: EtcdRollouts;
  readonly #store: ConfigStore;
  readonly #controller: RolloutController;

  constructor(rollouts: EtcdRollouts, store: ConfigStore, controller: RolloutController) {
    this.#rollouts = rollouts;
    this.#store = store;
    this.#controller = controller;
  }

  instances(): Promise<InstanceRecord[]> {
    return this.#rollouts.instances();
  }

  async start(request: RolloutRequest, author: string): Promise<RolloutResult> {
    const observing = await this.#rollouts.current();
    if (observing) return inProgress(observing.rollout);
    const latest = await this.#rollouts.latest();
    const base = await this.#store.get(latest.version);
    if (!base) return { ok: false, code: 'not_found', message: `version ${latest.version} is not in the store` };
    if (base.text === request.text) return { ok: false, code: 'bad_request', message: `the candidate is the running config (version ${base.version}): nothing to roll out` };
    const id = rolloutId();
    const selection = selectCanaries(id, await this.#rollouts.instances(), request.selector);
    if (!selection.ok) return { ok: false, code: 'bad_request', message: `no canary: ${selection.message}` };
    const rollout: Rollout = {
      id,
      text: request.text,
      sha256: sha256(request.text),
      author,
      message: request.message,
      baseVersion: latest.version,
      ...(request.fromVersion === undefined ? {} : { fromVersion: request.fromVersion }),
      canaries: selection.canaries,
      selector: request.selector,
      thresholds: request.thresholds,
      window: request.window,
      createdAt: new Date().toISOString(),
      state: 'observing',
    };
    const started = await this.#rollouts.start(rollout, latest.modRevision);
    if (started === 'started') return { ok: true, rollout };
    if (started === 'busy') {
      const now = await this.#rollouts.current();
      if (now) return inProgress(now.rollout);
    }
    return { ok: false, code: 'version_conflict', message: 'a new config version was committed while the rollout was starting; start it again (against the new version)' };
  }

  async status(): Promise<RolloutStatus | undefined> {
    const observing = await this.#rollouts.current();
    const rollout = observing?.rollout ?? (await this.#rollouts.finished(1))[0];
    if (!rollout) return undefined;
    const live = new Map((await this.#rollouts.instances()).map((r): [string, InstanceRecord] => [r.id, r]));
    const canaries = rollout.canaries.map((id) => canaryView(rollout, id, live.get(id)));
    const { text: _text, ...shown } = rollout;
    if (!observing) {
      const d = rollout.decision;
      return { rollout: shown, canaries, verdict: { action: d?.action ?? 'rollback', reason: d?.reason ?? 'ended' } };
    }
    const verdict = decide(rollout, live, Date.now());
    const canaryStats = [...live.values()].filter((r) => rollout.canaries.includes(r.id) && r.rollout?.id === rollout.id).map((r) => r.stats).filter(isStats);
    const baselineStats = [...live.values()].filter((r) => !rollout.canaries.includes(r.id)).map((r) => r.stats).filter(isStats);
    return {
      rollout: shown,
      canaries,
      verdict: { action: verdict.action, reason: verdict.reason, ...('timeLeft' in verdict && verdict.timeLeft !== undefined ? { timeLeft: verdict.timeLeft } : {}) },
      figures: shownFigures(canaryStats),
      baseline: shownFigures(baselineStats),
    };
  }

  async list(limit: number): Promise<Rollout[]> {
    return (await this.#rollouts.finished(limit)).map(({ text: _text, ...r }) => r as Rollout);
  }

  async end(action: 'promote' | 'abort', author: string, message: string | undefined): Promise<RolloutResult> {
    const observing = await this.#rollouts.current();
    if (!observing) return { ok: false, code: 'not_found', message: 'no rollout is observing (see GET /api/v1/rollouts)' };
    if (action === 'promote') return this.#controller.promote(observing, author, message ?? `promoted by hand by ${author}`);
    return this.#controller.rollBack(observing, author, message ?? `aborted by ${author}`, 'rollout.abort');
  }
}

/** Time first, so the keys of finished rollouts sort by time: 20250314T101500Z-3fa2. */
function rolloutId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}

function inProgress(rollout: Rollout): RolloutResult {
  return { ok: false, code: 'rollout_in_progress', message: `rollout ${rollout.id} is observing (canaries ${rollout.canaries.join(', ')}); wait for its decision, or end it with \`sluice rollout promote\` or \`sluice rollout abort\`` };
}

function canaryView(rollout: Rollout, id: string, record: InstanceRecord | undefined): CanaryView {
  if (!record) return { id, live: false };
  const part = record.rollout?.id === rollout.id ? record.rollout : undefined;
  const view: CanaryView = { id, live: true, ...(part ? { state: part.state } : {}), ...(part?.error === undefined ? {} : { error: part.error }) };
  const stats = part && record.stats && record.stats.since >= part.at ? record.stats : undefined;
  if (stats) Object.assign(view, shownFigures([stats]));
  return view;
}

function shownFigures(stats: WindowStats[]): RolloutStatus['figures'] {
  if (stats.length === 0) return undefined;
  const f = figuresOf(stats);
  return { requests: f.requests, errors: f.errors, errorRate: f.errorRate, ...(f.p99 === undefined ? {} : { p99: f.p99 }) };
}

function isStats(s: WindowStats | undefined): s is WindowStats {
  return s !== undefined;
}

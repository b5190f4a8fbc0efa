// The rollout controller's judgement, as a pure function of the rollout, what the canaries report and the time,
// so every rule can be tested without etcd or a clock. docs/distributed.md ("Staged rollout") states the rules.
import { quantileMs, sumStats } from './window-stats.ts';
import type { InstanceRecord, Rollout, WindowStats } from './types.ts';

/** Canaries that have not applied the candidate this long after the start: the rollout is rolled back. */
export const APPLY_TIMEOUT_MS = 30_000;

export type Verdict =
  | { action: 'wait'; reason: string; timeLeft?: number; figures?: Figures }
  | { action: 'promote' | 'rollback'; reason: string; figures?: Figures };

export interface Figures {
  requests: number;
  errors: number;
  errorRate: number;
  /** ms; undefined without requests. */
  p99: number | undefined;
}

/**
 * @param live the live instances by id (`<prefix>instances/`), canaries and others.
 * @example
 * decide(rollout, new Map([['a', record]]), Date.now()); // { action: 'wait', reason: 'observing: 2 s left', … }
 */
export function decide(rollout: Rollout, live: ReadonlyMap<string, InstanceRecord>, now: number, applyTimeout = APPLY_TIMEOUT_MS): Verdict {
  const present = rollout.canaries.map((id) => live.get(id)).filter((r) => r !== undefined);
  if (present.length === 0) return { action: 'rollback', reason: `every canary is gone (${rollout.canaries.join(', ')}): nothing left to judge the version by` };
  const mine = present.map((r) => ({ record: r, part: r.rollout?.id === rollout.id ? r.rollout : undefined }));
  const refused = mine.find((m) => m.part?.state === 'refused');
  if (refused) return { action: 'rollback', reason: `canary ${refused.record.id} refused the version: ${refused.part!.error ?? 'no reason given'}` };
  const pending = mine.filter((m) => m.part?.state !== 'applied').map((m) => m.record.id);
  if (pending.length > 0) {
    if (now - Date.parse(rollout.createdAt) >= applyTimeout) {
      return { action: 'rollback', reason: `canar${pending.length === 1 ? 'y' : 'ies'} ${pending.join(', ')} did not apply the version within ${applyTimeout / 1000} s` };
    }
    return { action: 'wait', reason: `waiting for ${pending.join(', ')} to apply the version` };
  }
  // Only figures counted since the canary applied the candidate are the candidate's.
  const stats = mine.map((m) => m.record.stats).filter((s, i): s is WindowStats => s !== undefined && Date.parse(s.since) >= Date.parse(mine[i]!.part!.at));
  const figures = figuresOf(stats);
  const { maxErrorRate, maxP99, minRequests } = rollout.thresholds;
  const judged = `${figures.requests} request${figures.requests === 1 ? '' : 's'}`;
  // A bad version is rolled back as soon as it has shown enough traffic to judge, not at the end of the window.
  if (figures.requests >= minRequests && figures.errorRate > maxErrorRate) {
    return { action: 'rollback', reason: `error rate ${percent(figures.errorRate)} (${figures.errors} of ${judged} answered 5xx) > maxErrorRate ${percent(maxErrorRate)}`, figures };
  }
  if (figures.requests >= minRequests && figures.p99 !== undefined && figures.p99 > maxP99) {
    return { action: 'rollback', reason: `p99 ${ms(figures.p99)} over ${judged} > maxP99 ${ms(maxP99)}`, figures };
  }
  // The window counts from the last canary to apply: every canary is watched for the whole window.
  const appliedAt = Math.max(...mine.map((m) => Date.parse(m.part!.at)));
  const timeLeft = appliedAt + rollout.window - now;
  if (timeLeft > 0) return { action: 'wait', reason: `observing: ${Math.ceil(timeLeft / 1000)} s left`, timeLeft, figures };
  // Figures published before the window ended may miss its last second: wait for a report from after it.
  const fresh = mine.every((m) => Date.parse(m.record.updatedAt) >= appliedAt + rollout.window);
  if (!fresh) return { action: 'wait', reason: 'window over: waiting for the canaries\' final figures', timeLeft: 0, figures };
  if (figures.requests < minRequests) {
    return { action: 'rollback', reason: `not enough traffic to judge: ${judged} < minRequests ${minRequests} in ${seconds(rollout.window)}`, figures };
  }
  const p99 = figures.p99 === undefined ? '' : `, p99 ${ms(figures.p99)} ≤ ${ms(maxP99)}`;
  return { action: 'promote', reason: `error rate ${percent(figures.errorRate)} ≤ ${percent(maxErrorRate)}${p99} over ${judged} in ${seconds(rollout.window)}`, figures };
}

export function figuresOf(stats: WindowStats[]): Figures {
  const sum = sumStats(stats);
  return { requests: sum.requests, errors: sum.errors, errorRate: sum.requests === 0 ? 0 : sum.errors / sum.requests, p99: quantileMs(sum, 0.99) };
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate * 100 >= 10 || rate === 0 ? 1 : 2)}%`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

function seconds(value: number): string {
  return `${Math.round(value / 100) / 10} s`;
}

// Which instances are a rollout's canaries. Deterministic: the same rollout over the same fleet picks the same
// instances (any instance may be asked to start it, and the choice is written down once), yet different rollouts
// spread over different instances, because the order comes from hashing the rollout id with each instance id.
import { createHash } from 'node:crypto';
import type { RolloutSelector } from './types.ts';

export interface Candidate {
  id: string;
  labels: Record<string, string>;
}

export type Selection = { ok: true; canaries: string[]; matching: number } | { ok: false; message: string };

/**
 * @example
 * selectCanaries('r1', [{ id: 'a', labels: { zone: 'a' } }, { id: 'b', labels: { zone: 'b' } }], { labels: { zone: 'a' } });
 * // { ok: true, canaries: ['a'], matching: 1 }
 */
export function selectCanaries(rolloutId: string, instances: Candidate[], selector: RolloutSelector): Selection {
  const labels = Object.entries(selector.labels ?? {});
  const matching = instances.filter((i) => labels.every(([k, v]) => i.labels[k] === v));
  if (matching.length === 0) {
    const wanted = labels.map(([k, v]) => `${k}=${v}`).join(', ');
    return { ok: false, message: instances.length === 0 ? 'no live instance is registered in etcd' : `no live instance has the labels ${wanted} (see GET /api/v1/instances)` };
  }
  const percent = selector.percent ?? 100;
  const count = Math.max(1, Math.ceil((percent / 100) * matching.length));
  const order = matching.map((i) => ({ id: i.id, rank: createHash('sha256').update(`${rolloutId}\0${i.id}`).digest('hex') }));
  order.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  return { ok: true, canaries: order.slice(0, count).map((o) => o.id).sort(), matching: matching.length };
}

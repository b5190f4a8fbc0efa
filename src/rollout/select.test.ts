import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectCanaries, type Candidate } from './select.ts';

const fleet: Candidate[] = [
  { id: 'a1', labels: { zone: 'a' } },
  { id: 'b1', labels: { zone: 'b', tier: 'edge' } },
  { id: 'b2', labels: { zone: 'b' } },
  { id: 'b3', labels: { zone: 'b' } },
];

test('labels: every label must match', () => {
  assert.deepEqual(selectCanaries('r', fleet, { labels: { zone: 'a' } }), { ok: true, canaries: ['a1'], matching: 1 });
  assert.deepEqual(selectCanaries('r', fleet, { labels: { zone: 'b', tier: 'edge' } }), { ok: true, canaries: ['b1'], matching: 1 });
});

test('percent: ceil(p% of the matching instances), at least one', () => {
  const third = selectCanaries('r', fleet.slice(0, 3), { percent: 34 });
  assert.ok(third.ok && third.canaries.length === 2); // ceil(0.34 × 3) = 2
  const one = selectCanaries('r', fleet.slice(0, 3), { percent: 33 });
  assert.ok(one.ok && one.canaries.length === 1);
  const tiny = selectCanaries('r', fleet, { labels: { zone: 'b' }, percent: 1 });
  assert.ok(tiny.ok && tiny.canaries.length === 1 && tiny.matching === 3 && tiny.canaries[0]!.startsWith('b'));
});

test('the choice is deterministic for a rollout and differs between rollouts', () => {
  const pick = (id: string) => selectCanaries(id, fleet, { percent: 25 });
  assert.deepEqual(pick('r-1'), pick('r-1'));
  const chosen = new Set(Array.from({ length: 40 }, (_v, i) => {
    const s = pick(`r-${i}`);
    return s.ok ? s.canaries[0] : '';
  }));
  assert.ok(chosen.size > 1, 'every rollout picked the same instance');
});

test('nothing matches: a message naming the labels', () => {
  const none = selectCanaries('r', fleet, { labels: { zone: 'c' } });
  assert.equal(none.ok, false);
  assert.match(!none.ok ? none.message : '', /zone=c/);
  assert.match((selectCanaries('r', [], {}) as { message: string }).message, /no live instance/);
});

// Target selection with real targets (their pools never connect here): the panic threshold, and per-target
// breakers that refuse a pick.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { configSchema, type ConfigInput } from '../config/schema.ts';
import { UpstreamRegistry } from './registry.ts';
import { updateHealth, type UpstreamTarget } from './target.ts';
import { selectTarget } from './target-selection.ts';
import type { Upstream } from './upstream.ts';

const registries: UpstreamRegistry[] = [];
after(async () => {
  for (const r of registries) await r.destroy();
});

function upstream(extra: Record<string, unknown> = {}, targets = 3): Upstream {
  const config = configSchema.parse({
    upstreams: [{ name: 'u', targets: Array.from({ length: targets }, (_, i) => ({ url: `http://127.0.0.1:${10_001 + i}` })), ...extra }],
  } as ConfigInput);
  const registry = new UpstreamRegistry();
  registries.push(registry);
  const u = registry.acquire(config.upstreams[0]!);
  registry.activate([u]);
  return u;
}

function sick(target: UpstreamTarget): void {
  target.activeHealthy = false;
  updateHealth(target);
}

function picks(u: Upstream, n: number): string[] {
  return Array.from({ length: n }, () => {
    const t = selectTarget(u, undefined, undefined);
    return typeof t === 'string' ? t : t.id.slice(-5);
  });
}

describe('selectTarget', () => {
  test('skips unhealthy targets while enough are healthy', () => {
    const u = upstream();
    sick(u.targets[0]!);
    assert.deepEqual(new Set(picks(u, 6)), new Set(['10002', '10003']));
    assert.equal(u.panicking, false);
  });

  test('panics under the threshold: every target gets traffic; with the threshold at 0, none of the sick ones', () => {
    const u = upstream();
    sick(u.targets[0]!);
    sick(u.targets[1]!);
    assert.equal(u.panicking, true);
    assert.deepEqual(picks(u, 3).sort(), ['10001', '10002', '10003']);

    const strict = upstream({ panicThresholdPercent: 0 });
    for (const t of strict.targets) sick(t);
    assert.deepEqual(picks(strict, 2), ['no_healthy_upstream', 'no_healthy_upstream']);
  });

  test('a half-open target breaker with its probe taken sends the pick elsewhere; all refusing is circuit_open', () => {
    const u = upstream({ circuitBreaker: { scope: 'target', consecutiveFailures: 1, openDuration: '60s' } }, 2);
    const guard = u.resilience!;
    const [a, b] = u.targets;
    // Open a's breaker: one failed attempt.
    assert.ok(guard.admitTarget(a!));
    guard.onAttemptEnd(a!, 'gateway-error');
    assert.equal(a!.healthy, false);
    assert.deepEqual(new Set(picks(u, 4)), new Set(['10002']));
    assert.ok(guard.admitTarget(b!));
    guard.onAttemptEnd(b!, 503);
    assert.deepEqual(picks(u, 1), ['circuit_open'], 'both open: panic picks a target, its breaker refuses');
  });
});

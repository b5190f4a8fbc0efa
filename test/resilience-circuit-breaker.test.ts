// Circuit breakers end to end over real sockets: the upstream's breaker fails fast with 503 circuit_open and
// Retry-After once the upstream keeps failing, admits a probe after the open time and closes when it succeeds;
// a target's own breaker takes just that target out of rotation (and reopens on a failed probe). Every transition
// is reported once, through the gateway's callback (the runtime logs it).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { CircuitChange } from '../src/upstream/resilience.ts';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { client, misbehaving, waitFor, type Misbehaving } from './helpers/misbehaving.ts';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function upstream(name: string, ...args: Parameters<typeof misbehaving> extends [string, ...infer R] ? R : never): Promise<Misbehaving> {
  const up = await misbehaving(name, ...args);
  cleanup.push(() => up.close());
  return up;
}

async function gateway(targets: Misbehaving[], upstreamExtra: Record<string, unknown>, route: Record<string, unknown> = {}) {
  const changes: CircuitChange[] = [];
  const gw: TestGateway = await startGateway(simpleConfig(targets.map((t) => t.url), route, upstreamExtra), { onCircuitChange: (c) => changes.push(c) });
  const http = client(gw.url);
  cleanup.push(() => gw.close(), () => http.close());
  return { gw, http, changes };
}

describe('the upstream circuit breaker', () => {
  test('opens after consecutive failures: 503 circuit_open with Retry-After, and the upstream is spared', async () => {
    const up = await upstream('flaky', { kind: 'status', status: 502 });
    const { gw, http, changes } = await gateway([up], { circuitBreaker: { scope: 'upstream', consecutiveFailures: 3, openDuration: '2s' } });
    for (let i = 0; i < 3; i++) assert.equal((await http.send()).status, 502, 'the upstream\'s own answers while closed');
    const refused = await http.send();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['x-sluice-error'], 'circuit_open');
    assert.equal(refused.headers['retry-after'], '2');
    assert.match(refused.body, /"code":"circuit_open"/);
    for (let i = 0; i < 10; i++) assert.equal((await http.send()).headers['x-sluice-error'], 'circuit_open');
    assert.equal(up.hits.length, 3, 'nothing reaches the upstream while the circuit is open');
    assert.deepEqual(changes.map((c) => [c.target, c.from, c.to, c.reason]), [[undefined, 'closed', 'open', 'consecutive-failures']]);
    assert.equal(gw.gateway.upstreamReport()[0]!.circuit!.state, 'open');
  });

  test('half-open after the open time: a successful probe closes it, a failed one reopens it for longer', async () => {
    const up = await upstream('recovering', { kind: 'status', status: 503 });
    const { http, changes } = await gateway([up], {
      circuitBreaker: { scope: 'upstream', consecutiveFailures: 2, openDuration: '300ms', maxOpenDuration: '600ms' },
    });
    await http.send();
    await http.send();
    assert.equal((await http.send()).headers['x-sluice-error'], 'circuit_open');
    // The probe fails: open again, for twice as long.
    await waitFor('the open time to pass', async () => (await http.send()).status === 503 && up.hits.length === 3, 3000);
    assert.deepEqual(changes.slice(-2).map((c) => [c.from, c.to, c.reason]), [['open', 'half-open', 'open-elapsed'], ['half-open', 'open', 'probe-failed']]);
    const refused = await http.send();
    assert.equal(refused.headers['x-sluice-error'], 'circuit_open');
    up.behave({ kind: 'ok' });
    await waitFor('a probe to close the circuit', async () => (await http.send()).status === 200, 3000);
    assert.deepEqual(changes.at(-1)!.to, 'closed');
    for (let i = 0; i < 5; i++) assert.equal((await http.send()).status, 200);
  });

  test('an error rate over the window opens it too (with enough requests)', async () => {
    const up = await upstream('half-bad');
    const { http, changes } = await gateway([up], {
      circuitBreaker: { scope: 'upstream', consecutiveFailures: 0, minRequests: 10, failureRatePercent: 50, window: '10s' },
    });
    for (let i = 0; i < 10; i++) {
      up.behave(i % 2 === 0 ? { kind: 'ok' } : { kind: 'reset' });
      await http.send();
    }
    assert.equal((await http.send()).headers['x-sluice-error'], 'circuit_open');
    assert.equal(changes[0]!.reason, 'failure-rate');
  });

  test('a client that leaves during a probe does not leave the circuit stuck half-open', async () => {
    const up = await upstream('slow-probe', { kind: 'status', status: 503 });
    const { http } = await gateway([up], { circuitBreaker: { scope: 'upstream', consecutiveFailures: 1, openDuration: '200ms' } });
    await http.send();
    await new Promise((resolve) => setTimeout(resolve, 250));
    up.behave({ kind: 'hang' });
    const controller = new AbortController();
    const probe = http.send('/', { signal: controller.signal }).catch(() => 'aborted');
    await waitFor('the probe to reach the upstream', () => up.hits.length === 2);
    controller.abort();
    assert.equal(await probe, 'aborted');
    up.behave({ kind: 'ok' });
    await waitFor('the next probe to be admitted and close the circuit', async () => (await http.send()).status === 200, 2000);
  });
});

describe('per-target circuit breakers', () => {
  test('a failing target is taken out of rotation; the others keep serving without errors', async () => {
    const good = await upstream('good');
    const bad = await upstream('bad', { kind: 'reset' });
    const { gw, http, changes } = await gateway(
      [good, bad],
      { circuitBreaker: { scope: 'target', consecutiveFailures: 2, openDuration: '10s' }, panicThresholdPercent: 0 },
      { retries: { attempts: 1, on: ['reset'] } },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await http.send()).status);
    assert.deepEqual(new Set(statuses), new Set([200]), 'retries cover the failures until the breaker opens');
    assert.equal(bad.hits.length, 2, 'the bad target saw exactly the failures that opened its breaker');
    assert.deepEqual(changes.map((c) => [c.target, c.to]), [[bad.url, 'open']]);
    const report = gw.gateway.upstreamReport()[0]!;
    const badReport = report.targets.find((t) => t.target === bad.url)!;
    assert.equal(badReport.state, 'circuit-open');
    assert.equal(badReport.circuit?.state, 'open');
    assert.equal(badReport.reason, 'circuit open: consecutive-failures');
    assert.equal(report.circuit, undefined, 'scope target: no upstream breaker');
  });

  test('the target comes back half-open after the open time: a failed probe reopens it, a good one closes it', async () => {
    const good = await upstream('good2');
    const bad = await upstream('bad2', { kind: 'status', status: 503 });
    const { http, changes } = await gateway([good, bad], { circuitBreaker: { scope: 'target', consecutiveFailures: 1, openDuration: '300ms' }, panicThresholdPercent: 0 });
    await waitFor('the bad target to fail once', async () => (await http.send()).status === 503);
    await waitFor('a failed probe', () => changes.some((c) => c.reason === 'probe-failed'), 3000, async () => void (await http.send()));
    bad.behave({ kind: 'ok' });
    await waitFor('a good probe', () => changes.at(-1)?.to === 'closed', 3000, async () => void (await http.send()));
    assert.deepEqual(
      changes.map((c) => c.to),
      ['open', 'half-open', 'open', 'half-open', 'closed'],
    );
  });

  test('when every target\'s breaker is open the answer is 503 circuit_open with Retry-After', async () => {
    const a = await upstream('a', { kind: 'reset' });
    const b = await upstream('b', { kind: 'reset' });
    const { http } = await gateway([a, b], { circuitBreaker: { scope: 'target', consecutiveFailures: 1, openDuration: '5s' } });
    await http.send();
    await http.send();
    const res = await http.send();
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-sluice-error'], 'circuit_open');
    assert.ok(Number(res.headers['retry-after']) >= 4, `retry-after ${res.headers['retry-after']}`);
  });
});

// Health end to end over real sockets: passive health (outlier detection) ejects a target killed mid-run or
// answering 5xx, for a while, and lets it back; the panic threshold spreads traffic over every target when too few
// are healthy; active checks honour their jitter; ejections and open breakers survive a reload. What the admin
// API shows of all this (GET /api/v1/upstreams, also with --workers 2) is pinned in resilience-admin.test.ts.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { OutlierChange } from '../src/upstream/resilience.ts';
import { simpleConfig, startGateway } from './helpers/gateway.ts';
import { client, misbehaving, waitFor, type Misbehaving } from './helpers/misbehaving.ts';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function upstreams(...names: string[]): Promise<Misbehaving[]> {
  const ups = await Promise.all(names.map((n) => misbehaving(n)));
  cleanup.push(...ups.map((u) => () => u.close()));
  return ups;
}

async function gateway(targets: Misbehaving[], upstreamExtra: Record<string, unknown>, route: Record<string, unknown> = {}) {
  const events: Array<OutlierChange & { at: number }> = [];
  const gw = await startGateway(simpleConfig(targets.map((t) => t.url), route, upstreamExtra), {
    onOutlierChange: (e) => events.push({ ...e, at: performance.now() }),
  });
  const http = client(gw.url);
  cleanup.push(() => gw.close(), () => http.close());
  return { gw, http, events };
}

/** Keeps `concurrency` clients sending until stop(); records every outcome with its time. */
function load(send: () => Promise<{ status: number; headers: Record<string, unknown> }>, concurrency = 8) {
  const outcomes: Array<{ at: number; status: number; upstream?: unknown }> = [];
  let stopped = false;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      try {
        const res = await send();
        outcomes.push({ at: performance.now(), status: res.status, upstream: res.headers['x-upstream'] });
      } catch {
        outcomes.push({ at: performance.now(), status: 0 });
      }
    }
  });
  return {
    outcomes,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('outlier detection', () => {
  test('a target killed under load is ejected at once; with retries no client sees an error; revived, it returns', async () => {
    const [a, b, c] = await upstreams('a', 'b', 'c');
    const { http, events } = await gateway(
      [a!, b!, c!],
      { outlierDetection: { consecutiveGatewayErrors: 2, baseEjectionTime: '1s' } },
      { retries: { attempts: 2, on: ['connect-failure', 'reset'] } },
    );
    const run = load(() => http.send());
    await sleep(300);
    const killedAt = performance.now();
    await c!.kill();
    await waitFor('the killed target to be ejected', () => events.some((e) => e.ejected), 2000);
    const ejectedAfter = events[0]!.at - killedAt;
    await c!.revive();
    const hitsBeforeReturn = c!.hits.length;
    await waitFor('the ejection to end', () => events.some((e) => !e.ejected), 3000);
    await waitFor('traffic to reach the revived target', () => c!.hits.length > hitsBeforeReturn, 2000);
    const outcomes = await run.stop();

    assert.ok(ejectedAfter < 1000, `ejected ${ejectedAfter.toFixed(0)} ms after the kill`);
    assert.deepEqual(
      events.map((e) => [e.target, e.ejected, e.reason]),
      [[c!.url, true, 'consecutive-gateway-errors'], [c!.url, false, 'ejection-elapsed']],
    );
    const failed = outcomes.filter((o) => o.status !== 200);
    assert.equal(failed.length, 0, `failures during the failover: ${JSON.stringify(failed.slice(0, 5))}`);
    assert.ok(outcomes.length > 100, `${outcomes.length} requests`);
  });

  test('without retries, the errors of a failover are bounded by the ejection threshold and the requests in flight', async () => {
    const [a, b] = await upstreams('a2', 'b2');
    const { http, events } = await gateway([a!, b!], { outlierDetection: { consecutiveGatewayErrors: 3, baseEjectionTime: '30s' } });
    const run = load(() => http.send(), 4);
    await sleep(200);
    await b!.kill();
    await waitFor('the killed target to be ejected', () => events.length > 0, 2000);
    await sleep(300);
    const outcomes = await run.stop();
    const failed = outcomes.filter((o) => o.status !== 200);
    // At most the 3 failures that eject it, plus what was in flight on it when it died.
    assert.ok(failed.length <= 3 + 4, `${failed.length} errors: ${JSON.stringify(failed.map((f) => f.status))}`);
    assert.ok(failed.length >= 1);
    const after = outcomes.filter((o) => o.at > events[0]!.at + 50);
    assert.ok(after.length > 20 && after.every((o) => o.status === 200), 'after the ejection every answer is good');
  });

  test('consecutive 5xx eject a target for baseEjectionTime; the other targets take its share', async () => {
    const [good, bad] = await upstreams('good', 'bad');
    bad!.behave({ kind: 'status', status: 500 });
    const { http, events } = await gateway([good!, bad!], { outlierDetection: { consecutive5xx: 3, baseEjectionTime: '30s' } });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await http.send()).status);
    assert.equal(statuses.filter((s) => s === 500).length, 3, 'three 500s, then the target is ejected');
    assert.equal(bad!.hits.length, 3);
    assert.deepEqual(events.map((e) => [e.target, e.reason, e.durationMs]), [[bad!.url, 'consecutive-5xx', 30_000]]);
  });

  test('at most maxEjectionPercent of the targets are ejected, so an upstream never ejects itself empty', async () => {
    const [a, b] = await upstreams('a3', 'b3');
    a!.behave({ kind: 'status', status: 503 });
    b!.behave({ kind: 'status', status: 503 });
    const { http, events } = await gateway([a!, b!], { outlierDetection: { consecutive5xx: 1, maxEjectionPercent: 50 } });
    for (let i = 0; i < 10; i++) await http.send();
    assert.equal(events.filter((e) => e.ejected).length, 1, 'one of two (50 %)');
  });
});

describe('the panic threshold', () => {
  test('with too few healthy targets every target gets traffic again; with it off only the healthy one does', async () => {
    const [a, b, c] = await upstreams('pa', 'pb', 'pc');
    b!.behave({ kind: 'status', status: 503 });
    c!.behave({ kind: 'status', status: 503 });
    const outliers = { consecutive5xx: 1, maxEjectionPercent: 100, baseEjectionTime: '30s' };
    const panicking = await gateway([a!, b!, c!], { outlierDetection: outliers });
    for (let i = 0; i < 6; i++) await panicking.http.send();
    assert.equal(panicking.events.length, 2);
    const report = panicking.gw.gateway.upstreamReport()[0]!;
    assert.equal(report.panic, true, '1 of 3 healthy is under the default 50 %');
    assert.equal(report.healthyTargets, 1);
    const before = b!.hits.length + c!.hits.length;
    for (let i = 0; i < 9; i++) await panicking.http.send();
    assert.equal(b!.hits.length + c!.hits.length - before, 6, 'in panic the ejected targets take their round-robin share');

    const [d, e, f] = await upstreams('pd', 'pe', 'pf');
    e!.behave({ kind: 'status', status: 503 });
    f!.behave({ kind: 'status', status: 503 });
    const strict = await gateway([d!, e!, f!], { outlierDetection: outliers, panicThresholdPercent: 0 });
    for (let i = 0; i < 6; i++) await strict.http.send();
    const sick = e!.hits.length + f!.hits.length;
    for (let i = 0; i < 9; i++) assert.equal((await strict.http.send()).status, 200);
    assert.equal(e!.hits.length + f!.hits.length, sick, 'panic off: the ejected targets get nothing');
  });
});

describe('active health checks', () => {
  test('the interval is spread by jitterPercent (0: exact)', async () => {
    const [exact, spread] = await upstreams('exact', 'spread');
    const one = await startGateway(simpleConfig([exact!.url], {}, { healthCheck: { interval: '100ms', jitterPercent: 0 } }));
    const two = await startGateway(simpleConfig([spread!.url], {}, { healthCheck: { interval: '100ms', jitterPercent: 50 } }));
    cleanup.push(() => one.close(), () => two.close());
    await waitFor('a dozen checks each', () => exact!.healthAt.length >= 12 && spread!.healthAt.length >= 12, 5000);
    const gaps = (at: number[]) => at.slice(2, 12).map((t, i) => t - at[i + 1]!);
    const exactGaps = gaps(exact!.healthAt);
    const spreadGaps = gaps(spread!.healthAt);
    // A busy machine can only make timers late, never early: the lower bounds are what tell the two apart.
    assert.ok(exactGaps.every((g) => g >= 95), `jitter 0: never early: ${exactGaps.map(Math.round)}`);
    assert.ok(spreadGaps.every((g) => g >= 45), `jitter 50 %: never below half the interval: ${spreadGaps.map(Math.round)}`);
    assert.ok(spreadGaps.some((g) => g < 90), `jitter 50 %: some checks come early: ${spreadGaps.map(Math.round)}`);
  });

  test('a target failing its checks and one ejected both count against the panic threshold', async () => {
    const [a, b, c] = await upstreams('ha', 'hb', 'hc');
    b!.healthStatus = 503;
    c!.behave({ kind: 'status', status: 502 });
    const { gw, http } = await gateway([a!, b!, c!], {
      healthCheck: { interval: '100ms', unhealthyThreshold: 1, jitterPercent: 0 },
      outlierDetection: { consecutiveGatewayErrors: 1 },
      panicThresholdPercent: 50,
    });
    await waitFor('b to fail its check', () => gw.gateway.upstreamReport()[0]!.targets[1]!.state === 'unhealthy', 2000);
    await waitFor('c to be ejected', async () => (await http.send(), gw.gateway.upstreamReport()[0]!.targets[2]!.state === 'ejected'), 2000);
    const report = gw.gateway.upstreamReport()[0]!;
    assert.deepEqual(report.targets.map((t) => t.state), ['healthy', 'unhealthy', 'ejected']);
    assert.equal(report.panic, true);
  });
});

describe('state across reloads', () => {
  test('an ejection and an open target breaker survive an unrelated reload', async () => {
    const [good, bad] = await upstreams('rgood', 'rbad');
    bad!.behave({ kind: 'status', status: 503 });
    const upstreamExtra = {
      outlierDetection: { consecutive5xx: 2, baseEjectionTime: '30s' },
      circuitBreaker: { scope: 'target', consecutiveFailures: 2, openDuration: '30s' },
    };
    const { gw, http } = await gateway([good!, bad!], upstreamExtra);
    for (let i = 0; i < 6; i++) await http.send();
    const hits = bad!.hits.length;
    const before = gw.gateway.upstreamReport()[0]!.targets[1]!;
    assert.equal(before.state, 'ejected');
    assert.equal(before.circuit?.state, 'open');
    // Same upstream settings, a new route: the snapshot is rebuilt, the upstream's state is not.
    await gw.apply({
      ...simpleConfig([good!.url, bad!.url], {}, upstreamExtra),
      routes: [{ name: 'all', upstream: 'app' }, { name: 'other', match: { path: '/other' }, upstream: 'app' }],
    });
    for (let i = 0; i < 10; i++) assert.equal((await http.send()).status, 200);
    assert.equal(bad!.hits.length, hits, 'still out of rotation');
    const after = gw.gateway.upstreamReport()[0]!.targets[1]!;
    assert.equal(after.state, 'ejected');
    assert.equal(after.circuit?.state, 'open');
  });
});

// What a running `sluice start` shows and says about its upstreams: GET /api/v1/upstreams gives each target's
// state (unhealthy by active checks, ejected, circuit open), its last check, the reason, its circuit and the
// upstream's adaptive limit; every transition is one log line. With --workers 2 the primary asks both workers and
// shows their views side by side with a merged one (each worker checks and counts on its own traffic).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { UpstreamReport } from '../src/upstream/registry.ts';
import { client, misbehaving, type Misbehaving } from './helpers/misbehaving.ts';
import { admin, eventually, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';

const temp = tempDir();
let good: Misbehaving;
let sick: Misbehaving;
let flaky: Misbehaving;
const cleanup: Array<() => Promise<void> | void> = [];

before(async () => {
  good = await misbehaving('good');
  sick = await misbehaving('sick');
  sick.healthStatus = 503;
  flaky = await misbehaving('flaky', { kind: 'reset' });
});

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await Promise.all([good, sick, flaky].map((u) => u?.close()));
  temp.remove();
});

async function sluice(name: string, workers: number): Promise<RunningSluice> {
  const path = join(temp.dir, `${name}.yaml`);
  writeAtomic(
    path,
    `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: app
    targets: [{ url: "${good.url}" }, { url: "${sick.url}" }, { url: "${flaky.url}" }]
    healthCheck: { path: /health, interval: 200ms, unhealthyThreshold: 1, jitterPercent: 0 }
    circuitBreaker: { scope: both, consecutiveFailures: 2, openDuration: 30s }
    outlierDetection: { consecutiveGatewayErrors: 2, baseEjectionTime: 30s }
    adaptiveConcurrency: {}
    panicThresholdPercent: 0
routes: [{ name: all, upstream: app, retries: { attempts: 2, on: [reset] } }]
admin: { address: "127.0.0.1:0" }
`,
  );
  const s = await startSluice(path, { workers });
  cleanup.push(() => s.proc.stop());
  return s;
}

interface View {
  upstreams: UpstreamReport[];
  overload: Record<string, unknown>;
  workers?: Array<{ pid: number; upstreams?: UpstreamReport[] }>;
}

describe('GET /api/v1/upstreams, one process', () => {
  let s: RunningSluice;
  before(async () => {
    s = await sluice('single', 1);
  });

  test('shows every target\'s state, last check, reason and circuit, and the upstream\'s limit', async () => {
    await s.proc.waitForLog((l) => l.msg === 'target unhealthy' && l.target === sick.url, 5000);
    const http = client(s.url());
    cleanup.push(() => http.close());
    for (let i = 0; i < 10; i++) assert.equal((await http.send()).status, 200, 'retries hide the resets');
    // Each target's first check runs on its own clock: wait until all three have one to show.
    const view = await eventually(async () => {
      const v = (await admin(s.adminUrl, '/api/v1/upstreams')).body as unknown as View;
      return v.upstreams[0]!.targets.every((t) => t.lastCheck !== undefined) ? v : undefined;
    }, 5000);
    assert.equal(view.workers, undefined);
    const app = view.upstreams[0]!;
    assert.equal(app.name, 'app');
    assert.equal(app.healthyTargets, 1);
    assert.equal(app.circuit?.state, 'closed', 'the upstream as a whole answered every request');
    assert.ok(app.adaptiveConcurrency!.limit >= 3);
    const [g, k, f] = app.targets;
    assert.equal(g!.state, 'healthy');
    assert.equal(g!.lastCheck?.ok, true);
    assert.equal(k!.state, 'unhealthy');
    assert.equal(k!.reason, 'active health check: status 503');
    assert.equal(k!.lastCheck?.reason, 'status 503');
    assert.ok(!Number.isNaN(Date.parse(k!.lastCheck!.at)));
    assert.equal(f!.state, 'ejected');
    assert.equal(f!.circuit?.state, 'open');
    assert.equal(f!.ejection?.ejected, true);
    assert.ok(f!.reason?.includes('consecutive'), f!.reason);
    assert.deepEqual(view.overload.shed, { max_in_flight: 0, event_loop_delay: 0, heap: 0 });
  });

  test('each transition is logged once', async () => {
    for (const msg of ['target ejected', 'target circuit open']) await s.proc.waitForLog((l) => l.msg === msg && l.target === flaky.url, 2000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const count = (msg: string, target: string) => s.proc.logs.filter((l) => l.msg === msg && l.target === target).length;
    assert.equal(count('target unhealthy', sick.url), 1);
    assert.equal(count('target ejected', flaky.url), 1);
    assert.equal(count('target circuit open', flaky.url), 1);
    const open = s.proc.logs.find((l) => l.msg === 'target circuit open')!;
    assert.equal(open.reason, 'consecutive-failures');
    assert.equal(open.level, 40);
  });
});

describe('GET /api/v1/upstreams, two workers', () => {
  test('every worker\'s view, and a merged one that is only healthy where all agree', async () => {
    const s = await sluice('cluster', 2);
    const view = await eventually(async () => {
      const body = (await admin(s.adminUrl, '/api/v1/upstreams')).body as unknown as View;
      const perWorker = (body.upstreams[0]?.targets[1] as { workers?: Array<{ state: string }> } | undefined)?.workers;
      return body.workers?.length === 2 && perWorker?.length === 2 && perWorker.every((w) => w.state === 'unhealthy') ? body : undefined;
    }, 10_000);
    const pids = view.workers!.map((w) => w.pid);
    assert.equal(new Set(pids).size, 2);
    assert.ok(view.workers!.every((w) => w.upstreams?.[0]?.name === 'app'));
    const merged = view.upstreams[0]!;
    assert.equal(merged.targets[0]!.state, 'healthy');
    const perWorker = (merged.targets[1] as unknown as { workers: Array<{ pid: number; state: string }> }).workers;
    assert.deepEqual(perWorker.map((w) => w.state), ['unhealthy', 'unhealthy']);
    assert.deepEqual(new Set(perWorker.map((w) => w.pid)), new Set(pids));
    assert.ok(merged.adaptiveConcurrency!.limit >= 6, 'the limits of both workers add up');
  });
});

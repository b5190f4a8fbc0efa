// What survives a reload: an upstream whose settings did not change keeps its pool (the same keep-alive
// connections carry on), and a target's health — learned by active checks — carries over, so an unhealthy
// target gets no traffic after an unrelated reload, nor after one that rebuilds it.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLoad } from './helpers/load.ts';
import { admin, eventually, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { listenUpstream, startUpstream, type TestUpstream } from './helpers/upstream.ts';

const temp = tempDir();
const cleanup: (() => Promise<void>)[] = [];

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
  temp.remove();
});

/** Counts the TCP connections an upstream accepted. */
function countConnections(up: TestUpstream): { readonly count: number } {
  const counter = { count: 0 };
  up.server.on('connection', () => counter.count++);
  return counter;
}

async function served(s: RunningSluice, path: string): Promise<void> {
  await eventually(async () => {
    const res = await fetch(s.url() + path, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200 ? true : undefined;
  }, 3000);
}

/** `requests` sequential requests over one keep-alive connection; every one must succeed. */
async function traffic(s: RunningSluice, requests: number): Promise<Record<string, number>> {
  const stats = await startLoad({ url: s.url(), paths: ['/load'], concurrency: 1, maxRequests: requests }).done;
  assert.deepEqual(stats.failures, []);
  return stats.byUpstream;
}

describe('connection pools', () => {
  let a: TestUpstream;
  let b: TestUpstream;
  let s: RunningSluice;
  const path = join(temp.dir, 'pools.yaml');
  const text = (extra: { route?: string; upstream?: string }) => `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: pool
    targets: [{ url: ${a.url} }, { url: ${b.url} }]
${extra.upstream ?? ''}
routes:
  - { name: load, match: { pathPrefix: /load }, upstream: pool }
${extra.route ?? ''}
admin: { address: "127.0.0.1:0" }
`;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    cleanup.push(() => a.close(), () => b.close());
    writeAtomic(path, text({}));
    s = await startSluice(path);
    cleanup.push(() => s.proc.stop());
  });

  test('an unrelated change keeps the upstream pool: no new upstream connections', async () => {
    const connA = countConnections(a);
    const connB = countConnections(b);
    assert.deepEqual(await traffic(s, 40), { a: 20, b: 20 });
    const before = [connA.count, connB.count];
    assert.deepEqual(before, [1, 1], 'sequential keep-alive traffic uses one connection per target');

    writeAtomic(path, text({ route: '  - { name: other, match: { pathPrefix: /other }, upstream: pool }' }));
    await served(s, '/other');
    await traffic(s, 40);
    assert.deepEqual([connA.count, connB.count], before, 'the same connections carried on');

    // The test can tell: a change of the pool's settings does open new connections.
    writeAtomic(path, text({ upstream: '    connectTimeout: 3s' }));
    await eventually(async () => {
      const res = await fetch(s.url() + '/other');
      await res.arrayBuffer();
      return res.status === 404 ? true : undefined;
    }, 3000);
    await traffic(s, 40);
    assert.deepEqual([connA.count, connB.count], [2, 2]);
  });
});

describe('health state', () => {
  let good: TestUpstream;
  let sick: TestUpstream;
  const sickTraffic = { checks: 0, requests: 0 };
  let s: RunningSluice;
  const path = join(temp.dir, 'health.yaml');
  // One check soon after start (the first is within a second), then not for 30 s: any traffic the sick target
  // gets after a reload would come from lost state, not from a checker that has not run yet.
  const text = (options: { sickWeight?: number; route?: string; noHealthCheck?: boolean; extraListener?: string }) => `listeners:
  - { name: public, address: "127.0.0.1:0" }
${options.extraListener ? `  - { name: extra, address: "${options.extraListener}" }` : ''}
upstreams:
  - name: pool
    loadBalancer: weighted
    targets:
      - { url: ${good.url} }
      - { url: ${sick.url}, weight: ${options.sickWeight ?? 1} }
${options.noHealthCheck ? '' : '    healthCheck: { path: /health, interval: 30s, unhealthyThreshold: 1, healthyThreshold: 1 }'}
routes:
  - { name: load, match: { pathPrefix: /load }, upstream: pool }
${options.route ?? ''}
admin: { address: "127.0.0.1:0" }
`;

  before(async () => {
    good = await startUpstream('good');
    sick = await listenUpstream(
      http.createServer((req, res) => {
        req.resume();
        if (req.url === '/health') {
          sickTraffic.checks++;
          res.writeHead(503).end('not today');
          return;
        }
        sickTraffic.requests++;
        res.writeHead(200, { 'x-upstream': 'sick' }).end('sick');
      }),
    );
    cleanup.push(() => good.close(), () => sick.close());
    writeAtomic(path, text({}));
    s = await startSluice(path);
    cleanup.push(() => s.proc.stop());
    await s.proc.waitForLog((l) => l.msg === 'target unhealthy' && l.target === sick.url, 5000);
  });

  test('an unhealthy target stays unhealthy across an unrelated reload, and gets no traffic', async () => {
    assert.equal(sickTraffic.checks, 1);
    assert.deepEqual(await traffic(s, 30), { good: 30 });

    writeAtomic(path, text({ route: '  - { name: other, match: { pathPrefix: /other }, upstream: pool }' }));
    await served(s, '/other');
    assert.deepEqual(await traffic(s, 30), { good: 30 });
    assert.equal(sickTraffic.requests, 0);
    // The checker was not restarted by the reload (a new one would check again within a second).
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(sickTraffic.checks, 1);
  });

  test('a target rebuilt by a reload (its weight changed) inherits its health', async () => {
    writeAtomic(path, text({ sickWeight: 5 }));
    await eventually(async () => {
      const res = await fetch(s.url() + '/other');
      await res.arrayBuffer();
      return res.status === 404 ? true : undefined;
    }, 3000);
    assert.deepEqual(await traffic(s, 30), { good: 30 });
    assert.equal(sickTraffic.requests, 0);
  });

  test('a config that fails to apply leaves health checking as it was (its health-check change never starts)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
    try {
      // Without a health check a target counts as healthy; had this half-applied, the sick one would get traffic.
      writeAtomic(path, text({ sickWeight: 5, noHealthCheck: true, extraListener: `127.0.0.1:${(blocker.address() as net.AddressInfo).port}` }));
      const reply = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
      assert.equal(reply.status, 422);
      assert.deepEqual(await traffic(s, 30), { good: 30 });
      assert.equal(sickTraffic.requests, 0);
    } finally {
      blocker.close();
    }
  });
});

// Rate limiting end to end: a route's rateLimit (or the canonical `plugins: [ { rate-limit: … } ]` form) answers
// 429 rate_limited with Retry-After and the RateLimit-Policy / RateLimit fields, puts the RateLimit fields on allowed
// responses too, keys buckets by client address (through trusted proxies), a header or the route; and with
// `--workers 2` the limit is exact across both workers (the buckets live in the primary). Redis: see
// resilience-redis-gateways.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway } from './helpers/gateway.ts';
import { client, closedUrl, misbehaving, type Misbehaving } from './helpers/misbehaving.ts';
import { startSluice, tempDir, writeAtomic } from './helpers/process.ts';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

let up: Misbehaving;

async function gateway(route: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  up ??= await misbehaving('app').then((u) => (cleanup.push(() => u.close()), u));
  const gw = await startGateway({ ...simpleConfig([up.url], route), ...extra });
  const http = client(gw.url);
  cleanup.push(() => gw.close(), () => http.close());
  return { gw, http };
}

describe('a local rate limit', () => {
  test('burst requests pass with RateLimit fields, then 429 rate_limited with Retry-After', async () => {
    const { http } = await gateway({ rateLimit: { rate: '1/s', burst: 3 } });
    const hitsBefore = up.hits.length;
    const allowed = [];
    for (let i = 0; i < 3; i++) allowed.push(await http.send());
    assert.deepEqual(allowed.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(allowed.map((r) => r.headers.ratelimit), ['"all";r=2;t=1', '"all";r=1;t=2', '"all";r=0;t=3']);
    assert.ok(allowed.every((r) => r.headers['ratelimit-policy'] === '"all";q=1;w=1'));
    const denied = await http.send();
    assert.equal(denied.status, 429);
    assert.equal(denied.headers['x-sluice-error'], 'rate_limited');
    assert.equal(denied.headers['retry-after'], '1');
    assert.equal(denied.headers['ratelimit-policy'], '"all";q=1;w=1');
    assert.equal(denied.headers.ratelimit, '"all";r=0;t=3');
    assert.match(denied.body, /"code":"rate_limited"/);
    assert.equal(up.hits.length - hitsBefore, 3, 'a denied request never reaches the upstream');
  });

  test('the bucket refills at the rate', async () => {
    const { http } = await gateway({ rateLimit: { rate: '20/s', burst: 1 } });
    assert.equal((await http.send()).status, 200);
    assert.equal((await http.send()).status, 429);
    await new Promise((resolve) => setTimeout(resolve, 70)); // one emission interval is 50 ms
    assert.equal((await http.send()).status, 200);
  });

  test('the canonical plugins form, keyed by a header: each key has its own bucket, no key means the client address', async () => {
    const { http } = await gateway({ plugins: [{ 'rate-limit': { rate: '1/m', burst: 1, key: 'header:x-api-key' } }] });
    const statuses = [];
    for (const key of ['k1', 'k1', 'k2', 'k2']) statuses.push((await http.send('/', { headers: { 'x-api-key': key } })).status);
    statuses.push((await http.send()).status, (await http.send()).status);
    assert.deepEqual(statuses, [200, 429, 200, 429, 200, 429]);
  });

  test('client-ip is the address behind a trusted proxy; an untrusted peer cannot pick its bucket with X-Forwarded-For', async () => {
    const trusted = await gateway({ rateLimit: { rate: '1/m', burst: 1 } }, { server: { trustedProxies: ['127.0.0.1'] } });
    const via = (ip: string) => trusted.http.send('/', { headers: { 'x-forwarded-for': ip } });
    assert.deepEqual([(await via('10.0.0.1')).status, (await via('10.0.0.1')).status, (await via('10.0.0.2')).status], [200, 429, 200]);
    const untrusted = await gateway({ rateLimit: { rate: '1/m', burst: 1 } });
    const spoof = (ip: string) => untrusted.http.send('/', { headers: { 'x-forwarded-for': ip } });
    assert.deepEqual([(await spoof('10.0.0.1')).status, (await spoof('10.0.0.2')).status], [200, 429]);
  });

  test('key: route shares one bucket between clients; headers: false sends no RateLimit fields, but Retry-After on a 429', async () => {
    const { http } = await gateway({ rateLimit: { rate: '1/m', burst: 1, key: 'route', headers: false } });
    const first = await http.send();
    assert.equal(first.status, 200);
    assert.equal(first.headers.ratelimit, undefined);
    const second = await http.send('/', { fresh: true });
    assert.equal(second.status, 429);
    assert.equal(second.headers.ratelimit, undefined);
    assert.equal(second.headers['retry-after'], '60');
  });

  test('RateLimit fields also ride on the errors Sluice answers after the limit let a request through', async () => {
    const dead = await closedUrl();
    const gw = await startGateway(simpleConfig([dead], { rateLimit: { rate: '10/s' } }));
    const http = client(gw.url);
    cleanup.push(() => gw.close(), () => http.close());
    const res = await http.send();
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-sluice-error'], 'upstream_connect_failed');
    assert.equal(res.headers.ratelimit, '"all";r=9;t=1');
  });

  test('buckets survive a reload that keeps the store', async () => {
    const { gw, http } = await gateway({ rateLimit: { rate: '1/m', burst: 2 } });
    await http.send();
    await http.send();
    await gw.apply({ ...simpleConfig([up.url], { rateLimit: { rate: '1/m', burst: 2 } }), routes: [{ name: 'all', upstream: 'app', rateLimit: { rate: '1/m', burst: 2 }, timeout: '5s' }] });
    assert.equal((await http.send()).status, 429, 'the reload did not hand out a fresh burst');
  });
});

describe('local mode across workers', () => {
  test('with --workers 2 the limit is exact: the buckets live in the primary', async () => {
    const temp = tempDir();
    cleanup.push(() => temp.remove());
    up ??= await misbehaving('app').then((u) => (cleanup.push(() => u.close()), u));
    const path = join(temp.dir, 'sluice.yaml');
    writeAtomic(
      path,
      `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: app, targets: [{ url: "${up.url}" }] }]
routes:
  - name: limited
    upstream: app
    plugins:
      - rate-limit: { rate: 1/m, burst: 10, key: route }
admin: { address: "127.0.0.1:0" }
`,
    );
    const s = await startSluice(path, { workers: 2 });
    cleanup.push(() => s.proc.stop());
    const http = client(s.url());
    cleanup.push(() => http.close());
    // New connections, so the kernel spreads them over both workers.
    const replies = await Promise.all(Array.from({ length: 40 }, () => http.send('/', { fresh: true })));
    const allowed = replies.filter((r) => r.status === 200).length;
    assert.equal(allowed, 10, `allowed ${allowed} of 40 across two workers`);
    assert.ok(replies.filter((r) => r.status !== 200).every((r) => r.status === 429 && r.headers['retry-after'] === '60'));
  });
});

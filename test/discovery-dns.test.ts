// DNS discovery against a real DNS server on a loopback port (a tiny one written for the test, answering over
// UDP as any server would): an upstream's targets follow the A or SRV answer for new requests, without a reload;
// a TTL shorter than the floor is not asked more often than the floor; a failing DNS keeps the last known targets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NamedUpstreams } from './helpers/discovery.ts';
import { DnsServer } from './helpers/dns-server.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { eventually } from './helpers/process.ts';

let dns: DnsServer;
const upstreams = new NamedUpstreams();

async function hit(g: TestGateway): Promise<{ status: number; upstream: string | null }> {
  const res = await fetch(g.url + '/', { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return { status: res.status, upstream: res.headers.get('x-upstream') };
}

async function upstreamsSeen(g: TestGateway, requests: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const r = await hit(g);
    seen.add(r.status === 200 ? r.upstream! : `status ${r.status}`);
  }
  return seen;
}

const same = (a: Set<string>, b: string[]) => a.size === b.length && b.every((x) => a.has(x));

before(async () => {
  dns = await DnsServer.start();
});

after(async () => {
  upstreams.close();
  await dns.close();
});

test('DNS A records: targets follow the answer without a reload, and a 0 s TTL is asked no faster than minInterval', async () => {
  // Two upstreams on one port, on two loopback addresses: what two hosts behind one name look like.
  const port = await upstreams.start('a', '127.0.0.2');
  await upstreams.start('b', '127.0.0.3', port);
  dns.set('A', 'app.test', [{ ttl: 0, data: '127.0.0.2' }]);
  const started = Date.now();
  const g = await startGateway({
    upstreams: [{ name: 'app', discovery: { dns: { name: 'app.test', type: 'A', port, servers: [dns.address], minInterval: '300ms' } } }],
    routes: [{ name: 'all', upstream: 'app' }],
  });
  try {
    const version = g.gateway.version;
    await eventually(async () => (same(await upstreamsSeen(g, 4), ['a']) ? true : undefined), 10_000);

    dns.set('A', 'app.test', [{ ttl: 0, data: '127.0.0.2' }, { ttl: 0, data: '127.0.0.3' }]);
    await eventually(async () => (same(await upstreamsSeen(g, 6), ['a', 'b']) ? true : undefined), 10_000);

    dns.set('A', 'app.test', [{ ttl: 0, data: '127.0.0.3' }]);
    await eventually(async () => (same(await upstreamsSeen(g, 10), ['b']) ? true : undefined), 10_000);
    const report = g.gateway.upstreamReport()[0]!;
    assert.deepEqual(report.targets.map((t) => t.target), [`http://127.0.0.3:${port}`]);
    assert.equal(report.discovery?.source, 'dns A app.test');

    assert.equal(g.gateway.version, version, 'the targets changed without a new snapshot');
    const elapsed = Date.now() - started;
    const asked = dns.asked('A', 'app.test');
    assert.ok(asked <= elapsed / 300 + 2, `asked ${asked} times in ${elapsed} ms with a 300 ms floor`);
    assert.ok(asked >= 3);
  } finally {
    await g.close();
  }
});

test('DNS failing (SERVFAIL, no answer, NXDOMAIN): the last known targets keep serving, and the failure is reported', async () => {
  const port = await upstreams.start('c', '127.0.0.1');
  dns.set('A', 'flaky.test', [{ ttl: 1, data: '127.0.0.1' }]);
  const g = await startGateway({
    upstreams: [{ name: 'app', discovery: { dns: { name: 'flaky.test', port, servers: [dns.address], minInterval: '200ms', maxInterval: '1s' } } }],
    routes: [{ name: 'all', upstream: 'app' }],
  });
  const failing = () => g.gateway.upstreamReport()[0]!.discovery?.error;
  try {
    await eventually(async () => ((await hit(g)).upstream === 'c' ? true : undefined), 10_000);
    for (const mode of ['servfail', 'silent'] as const) {
      dns.mode = mode;
      const error = await eventually(() => failing(), 15_000);
      assert.match(error, /DNS A flaky\.test/);
      assert.ok(same(await upstreamsSeen(g, 5), ['c']), `still served while DNS is ${mode}`);
      dns.mode = 'ok';
      await eventually(() => (failing() === undefined ? true : undefined), 15_000);
    }
    dns.records.delete('A flaky.test');
    assert.match(await eventually(() => failing(), 15_000), /ENOTFOUND|NXDOMAIN/);
    assert.ok(same(await upstreamsSeen(g, 5), ['c']));
  } finally {
    dns.mode = 'ok';
    await g.close();
  }
});

test('a reload keeps discovered targets serving: the same settings keep their source, changed ones start from the last answer', async () => {
  const port = await upstreams.start('r', '127.0.0.4');
  dns.set('A', 'reload.test', [{ ttl: 30, data: '127.0.0.4' }]);
  const config = (minInterval: string, route = '/') => ({
    upstreams: [{ name: 'app', discovery: { dns: { name: 'reload.test', port, servers: [dns.address], minInterval } } }],
    routes: [{ name: 'all', match: { pathPrefix: route }, upstream: 'app' }],
  });
  const g = await startGateway(config('1s'));
  try {
    await eventually(async () => ((await hit(g)).upstream === 'r' ? true : undefined), 10_000);
    const asked = dns.asked('A', 'reload.test');
    // A reload that leaves discovery alone: no new source, no new question, targets there at once.
    await g.apply(config('1s', '/'));
    assert.deepEqual(await upstreamsSeen(g, 3), new Set(['r']));
    assert.equal(dns.asked('A', 'reload.test'), asked);
    // New discovery settings: a new source, but the first request after the swap already has a target.
    await g.apply(config('2s'));
    assert.deepEqual(await upstreamsSeen(g, 3), new Set(['r']));
  } finally {
    await g.close();
  }
});

test('DNS SRV records: the best priority\'s records, each with its port and weight, hosts resolved through the same server', async () => {
  const [pa, pb, pc] = [await upstreams.start('srv-a', '127.0.0.1'), await upstreams.start('srv-b', '127.0.0.1'), await upstreams.start('srv-backup', '127.0.0.1')];
  dns.set('SRV', '_http._tcp.srv.test', [
    { ttl: 30, data: { priority: 10, weight: 1, port: pa, target: 'a.srv.test' } },
    { ttl: 30, data: { priority: 10, weight: 3, port: pb, target: 'b.srv.test' } },
    { ttl: 30, data: { priority: 20, weight: 1, port: pc, target: 'backup.srv.test' } },
  ]);
  for (const host of ['a.srv.test', 'b.srv.test', 'backup.srv.test']) dns.set('A', host, [{ ttl: 30, data: '127.0.0.1' }]);
  const g = await startGateway({
    upstreams: [{ name: 'app', loadBalancer: 'weighted', discovery: { dns: { name: '_http._tcp.srv.test', type: 'SRV', servers: [dns.address] } } }],
    routes: [{ name: 'all', upstream: 'app' }],
  });
  try {
    await eventually(() => (g.gateway.upstreamReport()[0]!.targets.length === 2 ? true : undefined), 10_000);
    assert.deepEqual(g.gateway.upstreamReport()[0]!.targets.map((t) => t.target).sort(), [`http://127.0.0.1:${pa}`, `http://127.0.0.1:${pb}`].sort());
    const counts: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const r = await hit(g);
      counts[r.upstream ?? String(r.status)] = (counts[r.upstream ?? String(r.status)] ?? 0) + 1;
    }
    assert.deepEqual(counts, { 'srv-a': 10, 'srv-b': 30 });
  } finally {
    await g.close();
  }
});

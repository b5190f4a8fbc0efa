// Kubernetes discovery through the Kubernetes client against a minimal fake API server (list + watch of
// EndpointSlices; no cluster is available here): ready endpoints become targets for new requests without a
// reload, an endpoint that turns unready leaves, an API server that fails keeps the last known targets, and a
// Service whose slices are gone has no target.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { FakeKubeApi } from './helpers/fake-kube-api.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { eventually, tempDir } from './helpers/process.ts';

const temp = tempDir('sluice-kube-');
let api: FakeKubeApi;
let g: TestGateway;
let port: number;
const servers: http.Server[] = [];

async function upstreamOn(name: string, host: string, at = 0): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'x-upstream': name });
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(at, host, resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

before(async () => {
  api = await FakeKubeApi.start();
  // Two pods of one Service: the same port on two addresses.
  port = await upstreamOn('pod-a', '127.0.0.2');
  await upstreamOn('pod-b', '127.0.0.3', port);
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2' }] });
  // Another Service's slice: never a target here.
  api.put({ name: 'other-y1', service: 'other', port: { name: 'http', port: 9 }, endpoints: [{ address: '127.0.0.9' }] });
  g = await startGateway({
    upstreams: [{ name: 'app', discovery: { kubernetes: { service: 'app', port: 'http', kubeconfig: api.kubeconfig(temp.dir) } } }],
    routes: [{ name: 'all', upstream: 'app' }],
  });
});

after(async () => {
  await g?.close();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await api?.close();
  temp.remove();
});

async function seen(requests: number): Promise<string[]> {
  const out = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const res = await fetch(g.url + '/', { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    out.add(res.status === 200 ? res.headers.get('x-upstream')! : `${res.status} ${res.headers.get('x-sluice-error')}`);
  }
  return [...out].sort();
}

const until = (want: string[], ms = 10_000) => eventually(async () => (JSON.stringify(await seen(6)) === JSON.stringify(want) ? true : undefined), ms);

test('kubernetes: ready endpoints of the Service are the targets, followed by watch without a reload', async () => {
  const version = g.gateway.version;
  await until(['pod-a']);
  const watchesBefore = api.watches;
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2' }, { address: '127.0.0.3' }] });
  await until(['pod-a', 'pod-b']);
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2', ready: false }, { address: '127.0.0.3' }] });
  await until(['pod-b']);
  // Changes came over the open watch, not by listing again.
  assert.equal(api.lists, 1);
  assert.equal(api.watches, watchesBefore);
  const report = g.gateway.upstreamReport()[0]!;
  assert.deepEqual(report.targets.map((t) => t.target), [`http://127.0.0.3:${port}`]);
  assert.equal(report.discovery?.source, 'kubernetes default/app');
  assert.equal(g.gateway.version, version);
});

test('kubernetes: an API server that fails keeps the last known targets; back, changes are followed again', async () => {
  await until(['pod-b']);
  api.fail();
  const error = await eventually(() => g.gateway.upstreamReport()[0]!.discovery?.error, 15_000);
  assert.match(error, /kubernetes default\/app/);
  assert.deepEqual(await seen(10), ['pod-b']);
  api.failing = false;
  await eventually(() => (g.gateway.upstreamReport()[0]!.discovery?.error === undefined ? true : undefined), 15_000);
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2' }, { address: '127.0.0.3' }] });
  await until(['pod-a', 'pod-b']);
  // Every slice gone: the Service has no endpoints, and that is an answer, not a failure.
  api.delete('app-x1');
  await until(['503 no_healthy_upstream']);
});

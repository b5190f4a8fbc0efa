// Kubernetes discovery through the Kubernetes client against a minimal fake API server (list + watch of
// EndpointSlices; no cluster is available here): ready endpoints become targets for new requests without a
// reload, an endpoint that turns unready leaves, an API server that fails keeps the last known targets, and a
// Service whose slices are gone has no target.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NamedUpstreams, servedBy, untilServedBy } from './helpers/discovery.ts';
import { FakeKubeApi } from './helpers/fake-kube-api.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { eventually, tempDir } from './helpers/process.ts';

const temp = tempDir('sluice-kube-');
let api: FakeKubeApi;
let g: TestGateway;
let port: number;
const upstreams = new NamedUpstreams();

before(async () => {
  api = await FakeKubeApi.start();
  // Two pods of one Service: the same port on two addresses.
  port = await upstreams.start('pod-a', '127.0.0.2');
  await upstreams.start('pod-b', '127.0.0.3', port);
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
  upstreams.close();
  await api?.close();
  temp.remove();
});


test('kubernetes: ready endpoints of the Service are the targets, followed by watch without a reload', async () => {
  const version = g.gateway.version;
  await untilServedBy(g.url, ['pod-a']);
  const watchesBefore = api.watches;
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2' }, { address: '127.0.0.3' }] });
  await untilServedBy(g.url, ['pod-a', 'pod-b']);
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2', ready: false }, { address: '127.0.0.3' }] });
  await untilServedBy(g.url, ['pod-b']);
  // Changes came over the open watch, not by listing again.
  assert.equal(api.lists, 1);
  assert.equal(api.watches, watchesBefore);
  const report = g.gateway.upstreamReport()[0]!;
  assert.deepEqual(report.targets.map((t) => t.target), [`http://127.0.0.3:${port}`]);
  assert.equal(report.discovery?.source, 'kubernetes default/app');
  assert.equal(g.gateway.version, version);
});

test('kubernetes: an API server that fails keeps the last known targets; back, changes are followed again', async () => {
  await untilServedBy(g.url, ['pod-b']);
  api.fail();
  const error = await eventually(() => g.gateway.upstreamReport()[0]!.discovery?.error, 15_000);
  assert.match(error, /kubernetes default\/app/);
  assert.deepEqual(await servedBy(g.url, 10), ['pod-b']);
  api.failing = false;
  await eventually(() => (g.gateway.upstreamReport()[0]!.discovery?.error === undefined ? true : undefined), 15_000);
  api.put({ name: 'app-x1', service: 'app', port: { name: 'http', port }, endpoints: [{ address: '127.0.0.2' }, { address: '127.0.0.3' }] });
  await untilServedBy(g.url, ['pod-a', 'pod-b']);
  // Every slice gone: the Service has no endpoints, and that is an answer, not a failure.
  api.delete('app-x1');
  await untilServedBy(g.url, ['503 no_healthy_upstream']);
});

// The etcd service registry against a real etcd: services join with `sluice register` or `register()` from
// `sluice/register` under a lease with a heartbeat, and the gateway's upstream follows the registry for new
// requests without a reload. A registration whose process dies expires after its TTL; a stopped one goes at once;
// while etcd is away the last known targets keep serving.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { register } from 'sluice/register';
import { servedBy, untilServedBy } from './helpers/discovery.ts';
import { EtcdServer } from './helpers/etcd.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { eventually, SluiceProcess } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

let etcd: EtcdServer;
let a: TestUpstream;
let b: TestUpstream;
let g: TestGateway;
const prefix = `/registry-${process.pid}/`;
const children: SluiceProcess[] = [];

before(async () => {
  etcd = await EtcdServer.start();
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  g = await startGateway({
    upstreams: [{ name: 'app', discovery: { etcd: { endpoints: [etcd.url], prefix, service: 'app' } } }],
    routes: [{ name: 'all', upstream: 'app' }],
  });
});

after(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await g?.close();
  await Promise.all([a?.close(), b?.close()]);
  await etcd?.stop();
});


function registerCli(url: string, ttl: string): SluiceProcess {
  const proc = new SluiceProcess(['register', '--etcd', etcd.url, '--prefix', prefix, '--service', 'app', '--url', url, '--ttl', ttl]);
  children.push(proc);
  return proc;
}

test('etcd registry: instances join and leave; a dead one expires after its TTL, a stopped one goes at once; no reload', async (t) => {
  const version = g.gateway.version;
  assert.deepEqual(await servedBy(g.url, 2), ['503 no_healthy_upstream']);

  const cliA = registerCli(a.url, '2s');
  await cliA.waitForLog((l) => l.msg === 'registered', 15_000);
  await untilServedBy(g.url, ['a']);
  const regB = await register({ etcd: etcd.url, prefix, service: 'app', url: b.url, ttl: 5 });
  await untilServedBy(g.url, ['a', 'b']);

  // A dies without a word: its heartbeat stops and the lease runs out.
  const killed = Date.now();
  cliA.kill('SIGKILL');
  await untilServedBy(g.url, ['b'], 15_000);
  const expiredMs = Date.now() - killed;
  t.diagnostic(`a registration with a 2 s TTL was removed ${expiredMs} ms after its process was killed`);
  assert.ok(expiredMs >= 1000, `removed after ${expiredMs} ms, before its TTL could have run out`);

  // A stopped instance deregisters: gone at once, long before its 10 s TTL.
  const cliA2 = registerCli(a.url, '10s');
  await cliA2.waitForLog((l) => l.msg === 'registered', 15_000);
  await untilServedBy(g.url, ['a', 'b']);
  const stopped = Date.now();
  cliA2.kill('SIGTERM');
  assert.equal((await cliA2.waitForExit(10_000)).code, 0);
  await untilServedBy(g.url, ['b']);
  t.diagnostic(`a stopped instance was removed ${Date.now() - stopped} ms after SIGTERM`);
  assert.ok(Date.now() - stopped < 5000);

  await regB.close();
  await untilServedBy(g.url, ['503 no_healthy_upstream']);
  assert.equal(g.gateway.version, version, 'the targets changed without a new snapshot');
});

test('etcd registry: while etcd is away the last known targets keep serving; back, changes are followed again', async () => {
  const regB = await register({ etcd: etcd.url, prefix, service: 'app', url: b.url, ttl: 10 });
  try {
    await untilServedBy(g.url, ['b']);
    await etcd.kill();
    const report = () => g.gateway.upstreamReport()[0]!.discovery;
    assert.match(await eventually(() => report()?.error, 10_000), /etcd registry/);
    assert.deepEqual(await servedBy(g.url, 10), ['b']);
    await etcd.resume();
    await eventually(() => (report()?.error === undefined ? true : undefined), 20_000);
    const regA = await register({ etcd: etcd.url, prefix, service: 'app', url: a.url, ttl: 10 });
    await untilServedBy(g.url, ['a', 'b']);
    await regA.close();
    await untilServedBy(g.url, ['b']);
  } finally {
    await regB.close();
  }
});

test('sluice register refuses bad flags with exit 1 and an unreachable etcd with exit 2', async () => {
  const bad = new SluiceProcess(['register', '--etcd', etcd.url, '--service', 'app', '--url', 'not a url']);
  assert.equal((await bad.waitForExit(15_000)).code, 1, bad.describe());
  const away = new SluiceProcess(['register', '--etcd', 'http://127.0.0.1:1', '--service', 'app', '--url', 'http://127.0.0.1:9', '--ttl', '2s']);
  assert.equal((await away.waitForExit(20_000)).code, 2, away.describe());
  assert.match(away.stderr, /cannot register .* in etcd at http:\/\/127\.0\.0\.1:1/);
});

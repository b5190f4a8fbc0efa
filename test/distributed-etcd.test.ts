// Distributed mode as an operator runs it: three `sluice start` processes on one real etcd. A change applied with
// `sluice config apply` through one instance reaches all three (convergence measured and bounded at 1 s); etcd
// killed under load changes nothing for traffic, every instance says `degraded` and refuses writes with 503;
// etcd back, a change applied through another instance converges again. And a start with etcd unreachable
// exits 2 (DESIGN.md: store unreachable at start).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdServer } from './helpers/etcd.ts';
import { startLoad } from './helpers/load.ts';
import { admin, eventually, runCli, SluiceProcess, startSluice, tempDir, type RunningSluice } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const temp = tempDir('sluice-etcd-');
const prefix = `/sluice-test-${process.pid}/`;
let etcd: EtcdServer;
let up: TestUpstream;
let fleet: RunningSluice[] = [];

/** The shared config; `routes` are the paths served, one route each. */
function sharedConfig(paths: string[]): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: app
    targets: [{ url: "${up.url}" }]
routes:
${paths.map((p) => `  - { name: r${p.replaceAll('/', '-')}, match: { pathPrefix: ${p} }, upstream: app }`).join('\n')}
admin: { address: "127.0.0.1:0" }
store: { etcd: { endpoints: ["${etcd.url}"], prefix: "${prefix}" } }
`;
}

before(async () => {
  etcd = await EtcdServer.start();
  up = await startUpstream('app');
  // Each instance has its own local file (its own admin port); all three start at once on an empty store, so
  // they race to seed it: one wins, the others apply its version.
  const files = [1, 2, 3].map((i) => {
    const file = join(temp.dir, `sluice-${i}.yaml`);
    writeFileSync(file, sharedConfig(['/one']));
    return file;
  });
  fleet = await Promise.all(files.map((file) => startSluice(file, { timeoutMs: 30_000 })));
});

after(async () => {
  await Promise.all(fleet.map((s) => s.proc.stop()));
  await up?.close();
  await etcd?.stop();
  temp.remove();
});

async function status(s: RunningSluice, path: string): Promise<number> {
  const res = await fetch(s.url() + path, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

const storeOf = async (s: RunningSluice) => (await admin(s.adminUrl, '/readyz')).body.store as { state: string; reason?: string; backend: string };

/** Polls every instance until each serves `path`; returns when each first did (epoch ms). */
function whenServed(path: string, timeoutMs: number): Promise<number[]> {
  return Promise.all(
    fleet.map((s) =>
      eventually(async () => ((await status(s, path)) === 200 ? Date.now() : undefined), timeoutMs, 5),
    ),
  );
}

test('three instances on one etcd: the first start seeds it once, and all run that version', async () => {
  const readies = await Promise.all(fleet.map((s) => admin(s.adminUrl, '/readyz')));
  for (const r of readies) {
    assert.equal(r.status, 200);
    assert.equal(r.body.configVersion, 1);
    assert.equal((r.body.store as { backend: string; state: string }).backend, 'etcd');
    assert.equal((r.body.store as { state: string }).state, 'ok');
  }
  const versions = await admin(fleet[2]!.adminUrl, '/api/v1/config/versions');
  assert.deepEqual((versions.body.versions as Array<{ version: number; source: string }>).map((v) => [v.version, v.source]), [[1, 'file']]);
  for (const s of fleet) assert.equal(await status(s, '/one'), 200);
});

test('a change applied with the CLI through one instance reaches all three within 1 s', async (t) => {
  const file = join(temp.dir, 'change.yaml');
  writeFileSync(file, sharedConfig(['/one', '/two']));
  for (const s of fleet) assert.equal(await status(s, '/two'), 404);
  const served = whenServed('/two', 20_000);
  const cli = await runCli(['config', 'apply', '-f', file, '-m', 'add /two', '--admin', fleet[0]!.adminUrl], { timeoutMs: 20_000 });
  assert.equal(cli.code, 0, cli.stderr);
  const times = await served;
  const version = (await admin(fleet[0]!.adminUrl, '/api/v1/config/versions/2')).body as { createdAt: string; author: string; message: string };
  const committed = Date.parse(version.createdAt);
  const lags = times.map((at) => at - committed);
  const convergence = Math.max(...lags);
  t.diagnostic(`convergence: ${convergence} ms from the commit of version 2 until all three instances served it (per instance: ${lags.join(', ')} ms; polled every 5 ms)`);
  assert.ok(convergence < 1000, `converged after ${convergence} ms`);
  assert.equal(version.message, 'add /two');
  // Every instance reports the same version, and the audit log is the fleet's: instance 3 shows the write made
  // through instance 1.
  for (const s of fleet) assert.equal((await admin(s.adminUrl, '/readyz')).body.configVersion, 2);
  const audit = (await admin(fleet[2]!.adminUrl, '/api/v1/audit')).body.entries as Array<{ action: string; version: number; result: string }>;
  assert.ok(audit.some((e) => e.action === 'config.put' && e.version === 2 && e.result === 'ok'), JSON.stringify(audit));
});

test('an If-Match write based on a version another instance replaced gets 409, whichever instance it goes to', async () => {
  const current = (await admin(fleet[1]!.adminUrl, '/readyz')).body.configVersion as number;
  const put = (s: RunningSluice, body: string) =>
    admin(s.adminUrl, '/api/v1/config', { method: 'PUT', headers: { 'if-match': `"${current}"`, 'content-type': 'application/yaml' }, body });
  const first = await put(fleet[1]!, sharedConfig(['/one', '/two', '/race']));
  assert.equal(first.status, 200, JSON.stringify(first.body));
  // Sent at once to another instance, before it may even have heard of the new version: etcd decides.
  const second = await put(fleet[2]!, sharedConfig(['/one', '/two', '/lost']));
  assert.equal(second.status, 409, JSON.stringify(second.body));
  assert.equal((second.body.error as { code: string }).code, 'version_conflict');
  assert.equal(second.body.currentVersion, current + 1);
  await whenServed('/race', 10_000);
  for (const s of fleet) assert.equal(await status(s, '/lost'), 404);
});

test('etcd killed under load: no request fails, every instance says degraded and refuses writes; back again, a change converges', async (t) => {
  const loads = fleet.map((s) => startLoad({ url: s.url(), paths: ['/one', '/two'], concurrency: 2, maxDurationMs: 60_000, maxRequests: 50_000 }));
  try {
    await eventually(() => (loads.every((l) => l.stats.ok > 20) ? true : undefined), 10_000);
    const servedBefore = loads.reduce((n, l) => n + l.stats.ok, 0);
    const down = Date.now();
    await etcd.kill();
    for (const s of fleet) {
      await eventually(async () => ((await storeOf(s)).state === 'degraded' ? true : undefined), 10_000);
      const ready = await admin(s.adminUrl, '/readyz');
      // Degraded, not unready: a load balancer must not pull every instance because etcd is down.
      assert.equal(ready.status, 200);
      assert.match((ready.body.store as { reason: string }).reason, /etcd unreachable/);
    }
    const refused = await admin(fleet[0]!.adminUrl, '/api/v1/config', {
      method: 'PUT',
      headers: { 'if-match': '*', 'content-type': 'application/yaml' },
      body: sharedConfig(['/one', '/never']),
    });
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal((refused.body.error as { code: string }).code, 'store_unavailable');
    const history = await admin(fleet[2]!.adminUrl, '/api/v1/config/versions');
    assert.equal(history.status, 503, JSON.stringify(history.body));
    // The running config is still there to read.
    assert.equal((await admin(fleet[2]!.adminUrl, '/api/v1/config')).status, 200);
    const printed = await runCli(['status', '--admin', fleet[1]!.adminUrl]);
    assert.match(printed.stdout, /DEGRADED/);
    // Traffic goes on while etcd is away.
    const before = loads.map((l) => l.stats.ok);
    await eventually(() => (loads.every((l, i) => l.stats.ok > before[i]! + 50) ? true : undefined), 10_000);

    const servedDuring = loads.reduce((n, l) => n + l.stats.ok, 0) - servedBefore;
    const resumed = Date.now();
    await etcd.resume();
    const up = Date.now();
    for (const s of fleet) await eventually(async () => ((await storeOf(s)).state === 'ok' ? true : undefined), 20_000);
    t.diagnostic(`etcd down ${up - down} ms (restart took ${up - resumed} ms); ${servedDuring} requests served meanwhile; all three ok again ${Date.now() - up} ms after etcd was back`);
    const file = join(temp.dir, 'after.yaml');
    writeFileSync(file, sharedConfig(['/one', '/two', '/three']));
    const served = whenServed('/three', 20_000);
    const cli = await runCli(['config', 'apply', '-f', file, '-m', 'after the outage', '--admin', fleet[1]!.adminUrl], { timeoutMs: 20_000 });
    assert.equal(cli.code, 0, cli.stderr);
    const times = await served;
    const version = (await admin(fleet[1]!.adminUrl, '/api/v1/config')).body as { createdAt: string };
    const convergence = Math.max(...times) - Date.parse(version.createdAt);
    t.diagnostic(`after the outage: converged ${convergence} ms after the commit`);
    assert.ok(convergence < 1000, `converged after ${convergence} ms`);
    const versions = await Promise.all(fleet.map(async (s) => (await admin(s.adminUrl, '/readyz')).body.configVersion));
    assert.equal(new Set(versions).size, 1);
  } finally {
    const stats = await Promise.all(loads.map((l) => l.stop()));
    const failures = stats.flatMap((s) => s.failures);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${stats.reduce((n, s) => n + s.sent, 0)} requests failed`);
    assert.ok(stats.every((s) => s.ok > 100));
  }
});

test('a start with etcd unreachable exits 2 and says which etcd', async () => {
  const file = join(temp.dir, 'unreachable.yaml');
  writeFileSync(
    file,
    `listeners: [{ name: public, address: "127.0.0.1:0" }]
admin: { address: "127.0.0.1:0" }
store: { etcd: { endpoints: ["http://127.0.0.1:1"], dialTimeout: 1s, requestTimeout: 300ms } }
`,
  );
  const proc = new SluiceProcess(['start', '-c', file, '--workers', '1']);
  const exit = await proc.waitForExit(20_000);
  assert.equal(exit.code, 2, proc.describe());
  assert.match(proc.stderr + proc.otherOutput.join('\n') + JSON.stringify(proc.logs), /cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
});

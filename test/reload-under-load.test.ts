// Hot reload under load, end to end: a real `sluice start --workers 1` in front of two real upstreams, eight
// keep-alive clients sending requests back to back, while the config file is rewritten 20 times (route sets
// alternate, routes are renamed, weights change, a route is added each time) by atomic rename and by in-place
// writes, with SIGHUP and POST /api/v1/reload mixed in. Not one request may fail. Then bad configs (a syntax
// error, an unknown upstream) are rejected — logged once, 422 from the API with file:line:col — while the last
// good config keeps serving, and the fixed file is picked up.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startLoad, type LoadRun } from './helpers/load.ts';
import { admin, startSluice, tempDir, writeAtomic, writeInPlace, type RunningSluice } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const REWRITES = 20;
const WEIGHTS = [
  [1, 1],
  [2, 1],
  [1, 3],
];

let upA: TestUpstream;
let upB: TestUpstream;
let sluice: RunningSluice;
let load: LoadRun | undefined;
const temp = tempDir();
const configPath = join(temp.dir, 'sluice.yaml');

/** Revision i of the config: the route set alternates (renamed routes), weights cycle, route /v/i is new. */
function configText(i: number, extra = ''): string {
  const [wa, wb] = WEIGHTS[i % WEIGHTS.length]!;
  const set = i % 2 === 0 ? 'even' : 'odd';
  return `# revision ${i}
listeners:
  - name: public
    address: 127.0.0.1:0
upstreams:
  - name: pool
    loadBalancer: weighted
    targets:
      - url: ${upA.url}
        weight: ${wa}
      - url: ${upB.url}
        weight: ${wb}
  - name: only-${set === 'even' ? 'a' : 'b'}
    targets:
      - url: ${set === 'even' ? upA.url : upB.url}
routes:
  - name: load-${set}
    match: { pathPrefix: /load }
    upstream: pool
  - name: api-${set}
    match: { pathPrefix: /api, methods: [GET] }
    upstream: pool
    stripPrefix: /api
  - name: only-${set}
    match: { pathPrefix: /only }
    upstream: only-${set === 'even' ? 'a' : 'b'}
  - name: added-${i}
    match: { pathPrefix: /v/${i} }
    upstream: pool
${extra}admin:
  address: 127.0.0.1:0
`;
}

/** Milliseconds from now until GET path answers 200 from an upstream (polling every 10 ms, at most 5 s). */
async function msUntilServed(path: string, since: number): Promise<number> {
  const deadline = since + 5000;
  for (;;) {
    const res = await fetch(sluice.url() + path, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    if (res.status === 200 && res.headers.get('x-upstream')) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`${path} not served within 5 s (last status ${res.status})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function countSince(from: number, msg: string): number {
  return sluice.proc.logs.slice(from).filter((l) => l.msg.startsWith(msg)).length;
}

before(async () => {
  upA = await startUpstream('a');
  upB = await startUpstream('b');
  writeAtomic(configPath, configText(0));
  sluice = await startSluice(configPath, { workers: 1 });
});

after(async () => {
  await load?.stop();
  await sluice?.proc.stop();
  await upA?.close();
  await upB?.close();
  temp.remove();
});

test('20 rewrites (rename, in-place, SIGHUP, admin API) under load: zero failed requests, new routes served within 1 s', async (t) => {
  load = startLoad({ url: sluice.url(), paths: ['/load/1', '/api/items', '/load/2?x=1'], concurrency: 8, maxDurationMs: 25_000 });
  const latencies: number[] = [];
  const reloadsBefore = sluice.proc.logs.length;
  for (let i = 1; i <= REWRITES; i++) {
    const text = configText(i);
    const t0 = Date.now();
    switch (i % 4) {
      case 0: // in-place write, and SIGHUP at once (the watcher then finds nothing new)
        writeInPlace(configPath, text);
        sluice.proc.kill('SIGHUP');
        break;
      case 1:
        writeAtomic(configPath, text);
        break;
      case 2:
        writeInPlace(configPath, text);
        break;
      case 3: {
        writeAtomic(configPath, text);
        const reply = await admin(sluice.adminUrl, '/api/v1/reload', { method: 'POST' });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal(reply.body.ok, true);
        break;
      }
    }
    latencies.push(await msUntilServed(`/v/${i}`, t0));
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the load run on this revision for a while
    // The route added by the previous revision went with it.
    if (i > 1) assert.equal((await fetch(`${sluice.url()}/v/${i - 1}`)).status, 404);
  }
  // A reload of an unchanged file changes nothing.
  const same = await admin(sluice.adminUrl, '/api/v1/reload', { method: 'POST' });
  assert.deepEqual(same.body, { ok: true, version: REWRITES + 1, changed: false });
  sluice.proc.kill('SIGHUP');

  const sorted = [...latencies].sort((a, b) => a - b);
  const max = sorted.at(-1)!;
  const median = sorted[Math.floor(sorted.length / 2)]!;
  t.diagnostic(`reload visibility over ${REWRITES} rewrites: median ${median} ms, max ${max} ms (all: ${latencies.join(', ')})`);
  assert.ok(max < 1000, `a new route took ${max} ms to be served`);

  // Exactly one reload per rewrite: the debounce merged each save's events, no-ops did not count.
  const ready = await admin(sluice.adminUrl, '/readyz');
  assert.equal(ready.body.configVersion, REWRITES + 1);
  assert.equal(countSince(reloadsBefore, 'config reloaded'), REWRITES);
  assert.equal(countSince(reloadsBefore, 'config rejected'), 0);

  const stats = await load.stop();
  t.diagnostic(`load: ${stats.sent} requests in ${stats.elapsedMs} ms, ${stats.failures.length} failed, by upstream ${JSON.stringify(stats.byUpstream)}`);
  assert.deepEqual(stats.failures.slice(0, 5), []);
  assert.equal(stats.ok, stats.sent);
  assert.ok(stats.sent > 500, `only ${stats.sent} requests were sent`);
  assert.ok((stats.byUpstream.a ?? 0) > 0 && (stats.byUpstream.b ?? 0) > 0, 'both upstreams served');
});

test('bad configs are rejected once, reported with file:line:col, and the last good config keeps serving', async (t) => {
  load = startLoad({ url: sluice.url(), paths: ['/load/bad', '/api/items'], concurrency: 4, maxDurationMs: 20_000 });
  const good = (await admin(sluice.adminUrl, '/readyz')).body.configVersion as number;
  const lastRoute = `/v/${REWRITES}`;

  const cases = [
    {
      name: 'syntax error',
      text: configText(REWRITES).replace('match: { pathPrefix: /only }', 'match: { pathPrefix: /only'),
      expect: /sluice\.yaml:\d+:\d+: /,
    },
    {
      name: 'unknown upstream',
      text: configText(REWRITES).replace('upstream: only-', 'upstream: nowhere-'),
      expect: /sluice\.yaml:\d+:\d+ routes\[2\]\.upstream: unknown upstream "nowhere-/,
    },
  ];
  for (const c of cases) {
    const from = sluice.proc.logs.length;
    writeAtomic(configPath, c.text);
    const logged = await sluice.proc.waitForLog((l) => l.msg.startsWith('config rejected'), 5000, from);
    const errors = logged.errors as string[];
    assert.ok(errors.some((e) => c.expect.test(e)), `${c.name}: ${JSON.stringify(errors)}`);

    const reply = await admin(sluice.adminUrl, '/api/v1/reload', { method: 'POST' });
    assert.equal(reply.status, 422, c.name);
    assert.equal((reply.body.error as { code: string }).code, 'invalid_config');
    assert.deepEqual(reply.body.errors, errors, `${c.name}: the API reports what the log said`);
    sluice.proc.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 400)); // room for a duplicate log line to show up
    assert.equal(countSince(from, 'config rejected'), 1, `${c.name}: logged once`);

    assert.equal((await fetch(sluice.url() + lastRoute)).status, 200, `${c.name}: the last good config serves`);
    assert.equal((await admin(sluice.adminUrl, '/readyz')).body.configVersion, good);
    t.diagnostic(`${c.name}: ${errors.join(' | ')}`);
  }

  // Fixing the file is picked up.
  const t0 = Date.now();
  writeInPlace(configPath, configText(REWRITES + 1));
  const ms = await msUntilServed(`/v/${REWRITES + 1}`, t0);
  t.diagnostic(`fixed config served after ${ms} ms`);
  assert.ok(ms < 1000);
  assert.equal((await admin(sluice.adminUrl, '/readyz')).body.configVersion, good + 1);

  const stats = await load.stop();
  t.diagnostic(`load during bad configs: ${stats.sent} requests, ${stats.failures.length} failed`);
  assert.deepEqual(stats.failures.slice(0, 5), []);
  assert.ok(stats.sent > 100);
});

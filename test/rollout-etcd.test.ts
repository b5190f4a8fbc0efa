// Staged rollout as an operator runs it: three `sluice start` processes on one real etcd, labelled zone a, b, b,
// with traffic on all three. A deliberately bad version (every request answered 500 by fault injection) rolled
// out to zone=a is served by that canary only and rolled back by the controller on its own, with the error rate
// in the audit log and no new version; a good version rolled out to 33% (one instance) is promoted after its
// window and becomes the next version everywhere; during a rollout config writes get 409 rollout_in_progress, and
// an abort ends it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { admin, eventually, runCli, type RunningSluice } from './helpers/process.ts';
import { RolloutFleet } from './helpers/rollout-fleet.ts';

let rf: RolloutFleet;
let fleet: RunningSluice[] = [];

before(async () => {
  rf = await RolloutFleet.start({ members: ['a', 'b', 'b'].map((zone) => ({ labels: { zone } })) });
  fleet = rf.members;
});

after(async () => {
  await rf?.stop();
});

/** The shared config: one route per path; `bad` makes /one answer 500 without forwarding. */
const sharedConfig = (paths: string[], options: { bad?: boolean } = {}) => rf.config(paths, options);
const instances = () => rf.instances(fleet[0]);
const ids = () => rf.ids();
const ready = (s: RunningSluice) => rf.ready(s);
const latestVersion = () => rf.versions(fleet[1]);
const rolloutNow = () => rf.rolloutNow(fleet[2]);
const audit = () => rf.audit(fleet[1]);
const loadAll = (paths = ['/one']) => rf.load(paths, fleet);

test('every instance registers with its labels; `sluice instances list` shows them', async () => {
  const all = await instances();
  assert.deepEqual(all.map((i) => i.labels.zone).sort(), ['a', 'b', 'b']);
  const cli = await runCli(['instances', 'list', '--admin', fleet[1]!.adminUrl]);
  assert.equal(cli.code, 0, cli.stderr);
  for (const id of await ids()) assert.ok(cli.stdout.includes(id), cli.stdout);
  assert.match(cli.stdout, /zone=a/);
});

test('a selector that matches nothing is refused with 400', async () => {
  const res = await admin(fleet[0]!.adminUrl, '/api/v1/rollouts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: sharedConfig(['/one', '/x']), selector: { labels: { zone: 'z' } } }) });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.match((res.body.error as { message: string }).message, /zone=z/);
});

test('a bad version rolled out to zone=a is served by that canary only and rolled back by itself', async (t) => {
  const [canaryId] = await ids();
  const base = (await ready(fleet[0]!)).configVersion;
  const versionsBefore = await latestVersion();
  const loadStarted = Date.now();
  const loads = loadAll();
  let stats;
  try {
    await eventually(() => (loads.every((l) => l.stats.ok > 20) ? true : undefined), 10_000);
    const file = join(rf.temp.dir, 'bad.yaml');
    writeFileSync(file, sharedConfig(['/one'], { bad: true }));
    const cli = await runCli(['rollout', 'start', '-f', file, '--labels', 'zone=a', '--window', '3s', '--min-requests', '20', '--max-error-rate', '0.05', '-m', 'a bad idea', '--admin', fleet[2]!.adminUrl], { timeoutMs: 20_000 });
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(cli.stdout.includes(canaryId!), cli.stdout);
    const ended = await eventually(async () => {
      const now = await rolloutNow();
      return now.rollout.state === 'rolled-back' ? now : undefined;
    }, 30_000, 50);
    assert.deepEqual(ended.rollout.canaries, [canaryId]);
    assert.match(ended.rollout.decision!.reason, /error rate (100|9\d)\.\d% \(\d+ of \d+ requests answered 5xx\) > maxErrorRate 5\.00%/);
    // The canary goes back to the base version: /one answers 200 there again.
    await eventually(async () => ((await fetch(fleet[0]!.url() + '/one')).status === 200 ? true : undefined), 10_000);
    const served = loads[0]!.stats.failures.filter((f) => f.status === 500);
    assert.ok(served.length > 0, 'the canary never served the bad version');
    const firstBad = loadStarted + Math.min(...served.map((f) => f.at));
    const decided = Date.parse(ended.rollout.decision!.at);
    t.diagnostic(`rollback ${decided - firstBad} ms after the canary's first 500 (${served.length} requests answered 500 by the canary)`);
    assert.ok(decided - firstBad < 10_000, `rolled back ${decided - firstBad} ms after the first bad answer`);
  } finally {
    stats = await Promise.all(loads.map((l) => l.stop()));
  }
  // The others never served it.
  assert.deepEqual(stats[1]!.failures.slice(0, 3), []);
  assert.deepEqual(stats[2]!.failures.slice(0, 3), []);
  // No new version; everyone on the base.
  assert.deepEqual(await latestVersion(), versionsBefore);
  for (const s of fleet) assert.equal((await ready(s)).configVersion, base);
  assert.equal((await ready(fleet[0]!)).rollout, undefined);
  const entries = await audit();
  const rollback = entries.find((e) => e.action === 'rollout.rollback');
  assert.ok(rollback, JSON.stringify(entries));
  assert.equal(rollback.actor, `rollout-controller@${rollback.actor.split('@')[1]}`);
  assert.match(rollback.message!, /error rate (100|9\d)\.\d%/);
  assert.equal(rollback.version, base);
  const status = await runCli(['rollout', 'status', '--admin', fleet[1]!.adminUrl]);
  assert.match(status.stdout, /ROLLED-BACK/);
  assert.match(status.stdout, /error rate (100|9\d)\.\d%/);
});

test('a good version rolled out to 33% (one of three) is promoted after its window and runs everywhere as the next version', async () => {
  const base = (await ready(fleet[0]!)).configVersion;
  const loads = loadAll();
  try {
    await eventually(() => (loads.every((l) => l.stats.ok > 20) ? true : undefined), 10_000);
    const res = await admin(fleet[1]!.adminUrl, '/api/v1/rollouts', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sluice-author': 'ci' },
      body: JSON.stringify({ text: sharedConfig(['/one', '/two']), message: 'add /two', selector: { percent: 33 }, window: '3s', thresholds: { maxErrorRate: 0.01, maxP99: '2s', minRequests: 20 } }),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const canaries = (res.body.rollout as { canaries: string[] }).canaries;
    // ceil(33% of 3) = 1.
    assert.equal(canaries.length, 1);
    // During the window: only the canaries serve /two.
    const all = await ids();
    await eventually(async () => {
      const codes = await Promise.all(fleet.map(async (s) => (await fetch(s.url() + '/two')).status));
      return codes.every((c, i) => c === (canaries.includes(all[i]!) ? 200 : 404)) ? true : undefined;
    }, 10_000);
    const ended = await eventually(async () => {
      const now = await rolloutNow();
      return now.rollout.state === 'promoted' ? now : undefined;
    }, 30_000, 50);
    assert.equal(ended.rollout.decision!.version, base + 1);
    assert.match(ended.rollout.decision!.reason, /error rate 0\.0% ≤ 1\.00%/);
    await eventually(async () => ((await Promise.all(fleet.map(async (s) => (await fetch(s.url() + '/two')).status))).every((c) => c === 200) ? true : undefined), 10_000);
  } finally {
    const stats = await Promise.all(loads.map((l) => l.stop()));
    assert.deepEqual(stats.flatMap((s) => s.failures).slice(0, 3), []);
  }
  const newest = (await latestVersion())[0]!;
  assert.equal(newest.version, base + 1);
  assert.equal(newest.source, 'rollout');
  assert.equal(newest.message, 'add /two');
  for (const s of fleet) assert.equal((await ready(s)).configVersion, base + 1);
  const promote = (await audit()).find((e) => e.action === 'rollout.promote');
  assert.ok(promote && promote.version === base + 1, JSON.stringify(promote));
});

test('during a rollout config writes get 409 rollout_in_progress; abort ends it', async () => {
  const base = (await ready(fleet[0]!)).configVersion;
  const res = await admin(fleet[0]!.adminUrl, '/api/v1/rollouts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: sharedConfig(['/one', '/two', '/three']), selector: { labels: { zone: 'b' } }, window: '10m' }),
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const id = (res.body.rollout as { id: string }).id;
  const put = await admin(fleet[2]!.adminUrl, '/api/v1/config', { method: 'PUT', headers: { 'if-match': '*', 'content-type': 'application/yaml' }, body: sharedConfig(['/one', '/four']) });
  assert.equal(put.status, 409, JSON.stringify(put.body));
  assert.equal((put.body.error as { code: string }).code, 'rollout_in_progress');
  assert.match((put.body.error as { message: string }).message, new RegExp(`${id}.*abort`));
  const rollback = await admin(fleet[0]!.adminUrl, '/api/v1/config/rollback', { method: 'POST', headers: { 'if-match': '*' }, body: JSON.stringify({ version: 1 }) });
  assert.equal(rollback.status, 409, JSON.stringify(rollback.body));
  const second = await admin(fleet[1]!.adminUrl, '/api/v1/rollouts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 1 }) });
  assert.equal(second.status, 409, JSON.stringify(second.body));
  // The canaries (zone b) run the candidate; readiness and `sluice status` say so.
  await eventually(async () => ((await ready(fleet[1]!)).rollout?.state === 'applied' ? true : undefined), 10_000);
  assert.equal((await ready(fleet[0]!)).rollout?.canary, false);
  const printed = await runCli(['status', '--admin', fleet[2]!.adminUrl]);
  assert.match(printed.stdout, new RegExp(`${id} observing; this instance is a canary`));
  const abort = await runCli(['rollout', 'abort', '-m', 'changed my mind', '--admin', fleet[0]!.adminUrl], { timeoutMs: 20_000 });
  assert.equal(abort.code, 0, abort.stderr);
  assert.equal((await rolloutNow()).rollout.state, 'rolled-back');
  await eventually(async () => ((await fetch(fleet[1]!.url() + '/three')).status === 404 ? true : undefined), 10_000);
  assert.equal((await latestVersion())[0]!.version, base);
  const entry = (await audit()).find((e) => e.action === 'rollout.abort');
  assert.ok(entry && /changed my mind/.test(entry.message!), JSON.stringify(entry));
});

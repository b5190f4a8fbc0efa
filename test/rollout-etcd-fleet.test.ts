// Staged rollout on a fleet that is harder to judge: three `sluice start` processes on one real etcd with a 3 s
// instance lease (store.etcd.instance.ttl), one of them started with `--workers 2`. A candidate whose new route
// holds every request 300 ms (fault injection `delay`) is rolled out to the two-worker instance and rolled back by
// the p99 rule; its figures are the sum over both workers (exactly the requests sent to it), and both workers
// serve the candidate and then the base again. A worker of that canary killed mid-window takes nothing out of
// the figures, and its replacement runs the candidate and is counted. Then the instance holding the controller
// lock is killed with SIGKILL while a rollout observes: another instance takes the lock once the dead one's lease
// expires and promotes the rollout from what etcd holds, audited under its own name.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startLoad } from './helpers/load.ts';
import { eventually, type RunningSluice } from './helpers/process.ts';
import { RolloutFleet } from './helpers/rollout-fleet.ts';

const TTL_S = 3;
let rf: RolloutFleet;
/** The two-worker instance. */
let twin: RunningSluice;

before(async () => {
  rf = await RolloutFleet.start({
    ttl: `${TTL_S}s`,
    accessLog: true,
    members: [
      { id: 'twin', labels: { zone: 'a', name: 'twin' }, workers: 2 },
      { id: 'solo-b', labels: { zone: 'b', name: 'solo-b' } },
      { id: 'solo-c', labels: { zone: 'b', name: 'solo-c' } },
    ],
  });
  twin = rf.members[0]!;
});

after(async () => {
  await rf?.stop();
});

interface AccessLine {
  path: string;
  status: number;
  duration_ms: number;
}

/** The access-log lines of one worker of the two-worker instance (only it writes access-wN.log). */
function workerLines(worker: 1 | 2): AccessLine[] {
  const file = rf.accessLogPath(worker);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessLine);
}

/** Exactly `count` requests to `path` on `s`, each on a new connection (so the kernel spreads them over workers). */
async function send(s: RunningSluice, path: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  const run = startLoad({ url: s.url(), paths: [path], concurrency: 8, maxRequests: count, fresh: true, accept: (status) => (statuses.push(status), true) });
  const stats = await run.done;
  assert.equal(stats.sent, count);
  return statuses;
}

test('a candidate that adds latency, on a --workers 2 canary, is rolled back by the p99 rule; its figures are both workers\' requests', async (t) => {
  const SENT = 40;
  const base = (await rf.ready(twin)).configVersion;
  const versionsBefore = await rf.versions();
  const { id, canaries } = await rf.startRollout({
    text: rf.config(['/one'], { slow: { path: '/slow', delay: '300ms' } }),
    message: 'a slow route',
    selector: { labels: { name: 'twin' } },
    // A window long enough that only the p99 rule can end it; minRequests = exactly what is sent, so the rule
    // fires only once the published figures count every request, whichever worker served it.
    window: '60s',
    thresholds: { maxErrorRate: 0.01, maxP99: '100ms', minRequests: SENT },
  });
  assert.deepEqual(canaries, ['twin']);
  // Both workers run the candidate, and the figures count from there (published: 0 requests so far).
  await eventually(async () => {
    const now = await rf.rolloutNow();
    return now.canaries[0]?.state === 'applied' && now.canaries[0].requests === 0 ? true : undefined;
  }, 10_000);
  const served = await send(twin, '/slow', SENT);
  const sentAt = Date.now();
  assert.deepEqual(served, Array(SENT).fill(200), 'the canary serves the candidate\'s /slow');
  const ended = await rf.ended('rolled-back', 15_000);
  const decision = ended.rollout.decision!;
  t.diagnostic(`rolled back ${Date.parse(decision.at) - sentAt} ms after the last of ${SENT} requests was answered: ${decision.reason}`);
  assert.equal(ended.rollout.id, id);
  assert.equal(decision.requests, SENT, `the figures judged are the sum over both workers (${SENT} requests sent)`);
  // Every request took at least 300 ms: the p99 lies in the (250 ms, 500 ms] bucket, interpolated within it.
  assert.ok(decision.p99! > 250 && decision.p99! <= 500, `p99 ${decision.p99}`);
  assert.match(decision.reason, new RegExp(`^p99 \\d+ ms over ${SENT} requests > maxP99 100 ms$`));
  assert.match(decision.by, /^rollout-controller@(twin|solo-b|solo-c)$/);
  const audited = (await rf.audit()).find((e) => e.action === 'rollout.rollback' && e.message?.includes(id));
  assert.ok(audited, 'the rollback is audited');
  assert.match(audited.message!, /p99 \d+ ms over 40 requests > maxP99 100 ms/);
  // The rollback reaches both workers: /slow is gone again on every connection.
  await eventually(async () => ((await send(twin, '/slow', 4)).every((s) => s === 404) ? true : undefined), 10_000);
  assert.deepEqual(await send(twin, '/slow', SENT), Array(SENT).fill(404));
  const lines = await eventually(() => {
    const both = [workerLines(1), workerLines(2)].map((all) => all.filter((l) => l.path === '/slow'));
    return both.every((l) => l.some((x) => x.status === 200) && l.some((x) => x.status === 404)) ? both : undefined;
  }, 10_000);
  // Each worker served the candidate (200, held ≥ 300 ms) and then the base (404): both got both configs.
  for (const worker of lines) assert.ok(worker.filter((l) => l.status === 200).every((l) => l.duration_ms >= 300), JSON.stringify(worker));
  assert.equal(lines.flat().filter((l) => l.status === 200).length, SENT);
  assert.deepEqual(await rf.versions(), versionsBefore, 'no version was created');
  const readyz = await rf.ready(twin);
  assert.equal(readyz.configVersion, base);
  assert.deepEqual(readyz.workerProcesses?.map((w) => w.version), [base, base]);
});

test('a canary worker killed mid-window: its requests stay in the figures, and its replacement runs the candidate and is counted', async () => {
  const { id } = await rf.startRollout({
    text: rf.config(['/one', '/two']),
    selector: { labels: { name: 'twin' } },
    window: '10m',
    thresholds: { maxErrorRate: 0.01, maxP99: '2s', minRequests: 100_000 },
  });
  const published = async () => (await rf.rolloutNow()).canaries[0]?.requests;
  try {
    await eventually(async () => ((await published()) === 0 ? true : undefined), 10_000);
    assert.deepEqual(await send(twin, '/two', 40), Array(40).fill(200));
    await eventually(async () => ((await published()) === 40 ? true : undefined), 10_000);
    const [victim, other] = (await rf.ready(twin)).workerProcesses!;
    process.kill(victim!.pid, 'SIGKILL');
    // The replacement takes the candidate (the rollout's config) before it counts as up to date.
    const replaced = await eventually(async () => {
      const workers = (await rf.ready(twin)).workerProcesses ?? [];
      return workers.length === 2 && workers.every((w) => w.pid !== victim!.pid && w.version === victim!.version) ? workers : undefined;
    }, 20_000, 100);
    assert.ok(replaced.some((w) => w.pid === other!.pid));
    // Figures published after the replacement joined: still what both workers served, nothing went with the dead one.
    const joined = Date.now();
    const afterKill = await eventually(async () => {
      const record = (await rf.instances()).find((i) => i.id === 'twin');
      return record?.stats && Date.parse(record.updatedAt) > joined ? record.stats.requests : undefined;
    }, 10_000);
    assert.equal(afterKill, 40, `the figures after a worker died: ${afterKill} (40 requests were sent)`);
    assert.deepEqual(await send(twin, '/two', 40), Array(40).fill(200), 'both workers, the replacement too, serve the candidate');
    // Counted exactly: the dead worker's share of the first 40, the survivor's, and the replacement's from its start.
    await eventually(async () => ((await published()) === 80 ? true : undefined), 10_000);
  } finally {
    const abort = await rf.abort();
    assert.equal(abort.status, 200, JSON.stringify(abort.body));
  }
  assert.equal((await rf.rolloutNow()).rollout.id, id);
});

test('the controller\'s instance killed with SIGKILL mid-rollout: another takes the lock after the lease TTL and promotes the rollout', async (t) => {
  const base = (await rf.ready(twin)).configVersion;
  const ids = await rf.ids();
  // The lock stays with its holder between rollouts (it is under that instance's lease).
  const holder = await rf.lockHolder();
  assert.ok(holder && ids.includes(holder), `the lock is held by a live instance (holder: ${holder})`);
  const victim = rf.members[ids.indexOf(holder)]!;
  // The canary is another instance: the two-worker one unless it is the holder.
  const canary = holder === 'twin' ? 'solo-b' : 'twin';
  const canaryProc = rf.members[ids.indexOf(canary)]!;
  const survivors = rf.members.filter((s) => s !== victim);
  const WINDOW_MS = 8000;
  let loads: ReturnType<RolloutFleet['load']> = [];
  try {
    const { id } = await rf.startRollout(
      { text: rf.config(['/one', '/two']), message: 'add /two', selector: { labels: { name: canary } }, window: `${WINDOW_MS}ms`, thresholds: { maxErrorRate: 0.01, maxP99: '2s', minRequests: 20 } },
      survivors[0],
    );
    const appliedAt = await eventually(async () => {
      const part = (await rf.instances()).find((i) => i.id === canary)?.rollout;
      return part?.id === id && part.state === 'applied' ? Date.parse(part.at) : undefined;
    }, 10_000);
    // Traffic at the canary, which serves /two from now on, so that the window has figures to judge.
    loads = rf.load(['/one', '/two'], [canaryProc]);
    // Observing, judged by the holder: now it dies without a word (no lease revoke, no record removed).
    assert.equal(await rf.lockHolder(), holder);
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.proc.exited;
    let freeAt = 0;
    const newHolder = await eventually(async () => {
      const now = await rf.lockHolder();
      if (now === undefined && freeAt === 0) freeAt = Date.now();
      return now !== undefined && now !== holder ? now : undefined;
    }, (TTL_S + 10) * 1000, 25);
    const takeover = Date.now() - killedAt;
    t.diagnostic(`lock free ${freeAt === 0 ? '(not seen free)' : `${freeAt - killedAt} ms`} and taken by ${newHolder} ${takeover} ms after the SIGKILL (instance ttl ${TTL_S} s)`);
    assert.ok(takeover < TTL_S * 1000 + 5000, `takeover took ${takeover} ms`);
    // The dead instance's record went with the same lease.
    assert.ok(!(await rf.instances()).some((i) => i.id === holder), 'the dead instance dropped out');
    const ended = await rf.ended('promoted', WINDOW_MS + 15_000);
    const decision = ended.rollout.decision!;
    assert.equal(ended.rollout.id, id);
    assert.equal(decision.by, `rollout-controller@${newHolder}`);
    assert.equal(decision.version, base + 1);
    assert.match(decision.reason, /error rate 0\.0% ≤ 1\.00%/);
    assert.ok(Date.parse(decision.at) >= appliedAt + WINDOW_MS, `promoted at the end of the window (${Date.parse(decision.at) - appliedAt} ms after the canary applied it)`);
    const promote = (await rf.audit()).find((e) => e.action === 'rollout.promote' && e.message?.includes(id));
    assert.ok(promote, 'the promotion is audited');
    assert.equal(promote.actor, `rollout-controller@${newHolder}`);
    assert.equal(promote.version, base + 1);
  } finally {
    const stats = await Promise.all(loads.map((l) => l.stop()));
    assert.deepEqual(stats.flatMap((s) => s.failures).slice(0, 3), []);
  }
  // Every survivor — each worker of the two-worker one included — runs the promoted version.
  await eventually(async () => ((await Promise.all(survivors.map((s) => rf.ready(s)))).every((r) => r.configVersion === base + 1) ? true : undefined), 10_000);
  for (const s of survivors) {
    const readyz = await rf.ready(s);
    if (readyz.workerProcesses) assert.deepEqual(readyz.workerProcesses.map((w) => w.version), [base + 1, base + 1]);
    assert.deepEqual(await send(s, '/two', 8), Array(8).fill(200));
  }
  const newest = (await rf.versions())[0]!;
  assert.deepEqual([newest.version, newest.source, newest.message], [base + 1, 'rollout', 'add /two']);
});

// Distributed rate limiting end to end: two real `sluice start` processes share one bucket in a real redis-server
// (started here on a free port). Together they admit the configured rate within ±5 %. A Redis that cannot be
// reached at start is exit 2; one that dies under traffic is decided by failureMode (open: allow, closed: 429),
// reported once when it goes and once when it is back — never per request.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { client, misbehaving, type Misbehaving } from './helpers/misbehaving.ts';
import { SluiceProcess, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { freePort } from './helpers/free-port.ts';
import { assertRedisInstalled, RedisServer, waitFor } from './helpers/redis.ts';

const temp = tempDir();
let redis: RedisServer;
let up: Misbehaving;
const cleanup: Array<() => Promise<void> | void> = [];

before(async () => {
  assertRedisInstalled();
  redis = new RedisServer(await freePort());
  await redis.start();
  up = await misbehaving('app');
});

after(async () => {
  for (const fn of cleanup.reverse()) await fn();
  await up?.close();
  await redis?.kill();
  temp.remove();
});

function configText(redisUrl: string, limit: string): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: app, targets: [{ url: "${up.url}" }] }]
routes:
  - name: shared
    upstream: app
    plugins:
      - rate-limit: ${limit}
server:
  rateLimit:
    redis: { url: "${redisUrl}", commandTimeout: 1s }
admin: { address: "127.0.0.1:0" }
`;
}

let n = 0;
async function sluice(limit: string, redisUrl = redis.url): Promise<RunningSluice> {
  const path = join(temp.dir, `sluice-${n++}.yaml`);
  writeAtomic(path, configText(redisUrl, limit));
  const s = await startSluice(path);
  cleanup.push(() => s.proc.stop());
  return s;
}

describe('two gateways sharing a Redis', () => {
  test('admit the configured rate together, within ±5 %', async (t) => {
    const rate = 150;
    // A burst worth a second absorbs the pauses of a busy test machine, which would otherwise let the bucket fill
    // up and waste some of the rate; it is taken out of the count below.
    const burst = rate;
    const limit = `{ rate: ${rate}/s, burst: ${burst}, key: route, store: redis }`;
    const [a, b] = await Promise.all([sluice(limit), sluice(limit)]);
    const clients = [client(a.url()), client(b.url())];
    cleanup.push(...clients.map((c) => () => c.close()));
    let allowed = 0;
    let denied = 0;
    const durationMs = 4000;
    const started = performance.now();
    // Both gateways are driven well above the rate, so the shared bucket decides.
    await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: 8 }, async () => {
          while (performance.now() - started < durationMs) {
            const res = await c.send();
            if (res.status === 200) allowed++;
            else if (res.status === 429) denied++;
            else assert.fail(`unexpected ${res.status}: ${res.body}`);
          }
        }),
      ),
    );
    const elapsedMs = performance.now() - started;
    const admittedRate = (allowed - burst) / (elapsedMs / 1000);
    t.diagnostic(`admitted ${admittedRate.toFixed(1)}/s for a limit of ${rate}/s (${allowed} allowed, ${denied} denied in ${elapsedMs.toFixed(0)} ms)`);
    assert.ok(denied > allowed, `the gateways were driven over the limit (${allowed} allowed, ${denied} denied)`);
    assert.ok(Math.abs(admittedRate - rate) <= rate * 0.05, `admitted ${admittedRate.toFixed(1)}/s for a limit of ${rate}/s (${allowed} in ${elapsedMs.toFixed(0)} ms)`);
  });
});

describe('when Redis is unreachable', () => {
  test('at start: exit 2, saying which store', async () => {
    const path = join(temp.dir, 'unreachable.yaml');
    writeAtomic(path, configText(`redis://127.0.0.1:${await freePort()}`, '{ rate: 10/s, store: redis }'));
    const proc = new SluiceProcess(['start', '-c', path, '--workers', '1']);
    cleanup.push(() => proc.stop());
    const exit = await proc.waitForExit(15_000);
    assert.equal(exit.code, 2);
    assert.match(proc.stderr, /rate-limit store cannot be reached: redis not reachable/);
  });

  test('under traffic: fail open keeps serving, fail closed answers 429; each outage is logged once, and its end', async () => {
    const open = await sluice('{ rate: 1000/s, key: route, store: redis, failureMode: open }');
    const closed = await sluice('{ rate: 1000/s, key: route, store: redis, failureMode: closed }');
    const openClient = client(open.url());
    const closedClient = client(closed.url());
    cleanup.push(() => openClient.close(), () => closedClient.close());
    assert.equal((await openClient.send()).headers.ratelimit !== undefined, true);

    await redis.kill();
    const during = { open: [] as number[], closed: [] as number[] };
    for (let i = 0; i < 20; i++) {
      during.open.push((await openClient.send()).status);
      during.closed.push((await closedClient.send()).status);
    }
    assert.deepEqual(new Set(during.open), new Set([200]));
    assert.deepEqual(new Set(during.closed), new Set([429]));
    const DOWN = 'redis unreachable; failure mode applies';
    const down = (s: RunningSluice) => s.proc.logs.filter((l) => l.msg === DOWN);
    // The log comes through the child's stdout, a moment after the answers.
    await Promise.all([open, closed].map((s) => s.proc.waitForLog((l) => l.msg === DOWN, 2000)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(down(open).length, 1, 'one line for the outage, not one per request');
    assert.equal(down(closed).length, 1);

    await redis.start();
    await waitFor('the fail-closed gateway to admit again', async () => (await closedClient.send()).status === 200, 10_000);
    await waitFor('the fail-open gateway to use Redis again', async () => (await openClient.send()).headers.ratelimit !== undefined, 10_000);
    await open.proc.waitForLog((l) => l.msg === 'redis reachable again', 2000);
    const back = await closed.proc.waitForLog((l) => l.msg === 'redis reachable again', 2000);
    assert.ok((back.degradedRequests as number) >= 20, `degraded requests counted: ${back.degradedRequests}`);
  });
});

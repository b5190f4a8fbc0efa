// The Redis rate-limit store against a real redis-server started here on a free loopback port: the shared store
// cases, two independent instances sharing one bucket (accuracy within ±5 % of the rate), and Redis killed under
// traffic (fail open / fail closed honoured, the outage reported once) and brought back (the store recovers).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { parseRate } from '../src/resilience/rate-limit/rate.ts';
import { RedisRateLimitStore } from '../src/resilience/rate-limit/redis-store.ts';
import type { StoreOutage } from '../src/resilience/rate-limit/store.ts';
import { rateLimitStoreCases } from '../src/resilience/rate-limit/store-cases.ts';
import { freePort } from './helpers/free-port.ts';
import { assertRedisInstalled, RedisServer, waitFor } from './helpers/redis.ts';

describe('RedisRateLimitStore with a real redis-server', () => {
  let redis: RedisServer;
  const stores: RedisRateLimitStore[] = [];
  const storeFor = (options: ConstructorParameters<typeof RedisRateLimitStore>[0] = {}) => {
    const store = new RedisRateLimitStore({ url: redis.url, ...options });
    stores.push(store);
    return store;
  };

  before(async () => {
    assertRedisInstalled();
    redis = new RedisServer(await freePort());
    await redis.start();
  });

  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.kill();
  });

  describe('common cases', () => {
    let store: RedisRateLimitStore;
    before(async () => {
      store = storeFor();
      await store.ready();
    });
    rateLimitStoreCases(() => store, 'redis');
  });

  test('EVALSHA falls back to EVAL when Redis has forgotten the script (NOSCRIPT)', async () => {
    const store = storeFor();
    await store.ready();
    const admin = new Redis(redis.url);
    try {
      await admin.script('FLUSH');
      const first = await store.take('noscript', parseRate('1/m')!, 2);
      assert.equal(first.allowed, true);
      assert.equal(first.degraded, undefined);
      assert.equal((await store.take('noscript', parseRate('1/m')!, 2)).remaining, 0);
    } finally {
      admin.disconnect();
    }
  });

  test('buckets expire in Redis once full again (no key left behind)', async () => {
    const store = storeFor({ keyPrefix: 'expiry:' });
    await store.ready();
    await store.take('k', parseRate('20/s')!, 1); // full again after 50 ms
    const admin = new Redis(redis.url);
    try {
      const ttl = await admin.pttl('expiry:k');
      assert.ok(ttl > 0 && ttl <= 50, `pttl ${ttl}`);
      await waitFor('the bucket key to expire', async () => (await admin.exists('expiry:k')) === 0, 2000);
    } finally {
      admin.disconnect();
    }
  });

  test('two independent instances sharing one bucket admit the configured rate within ±5 %', async (t) => {
    const rate = parseRate('200/s')!;
    // A burst worth a second: a busy test machine's pauses would otherwise let the bucket fill up and waste rate.
    const burst = 200;
    // A generous command timeout: on a busy test machine a slow answer must not turn into a degraded decision.
    const a = storeFor({ commandTimeoutMs: 2000 });
    const b = storeFor({ commandTimeoutMs: 2000 });
    await Promise.all([a.ready(), b.ready()]);
    const key = `shared-${process.pid}`;
    const counts = new Map<RedisRateLimitStore, number>([[a, 0], [b, 0]]);
    const durationMs = 3000;
    const started = performance.now();
    const deadline = started + durationMs;
    // Four concurrent request loops per instance, hammering far above the rate.
    const loop = async (store: RedisRateLimitStore) => {
      while (performance.now() < deadline) {
        const d = await store.take(key, rate, burst);
        assert.equal(d.degraded, undefined);
        if (d.allowed) counts.set(store, counts.get(store)! + 1);
      }
    };
    await Promise.all([a, a, a, a, b, b, b, b].map(loop));
    const elapsedS = (performance.now() - started) / 1000;
    const admitted = counts.get(a)! + counts.get(b)!;
    const expected = (rate.count * rate.periodMs) / 1000 * elapsedS + burst;
    const error = Math.abs(admitted - expected) / expected;
    t.diagnostic(`admitted ${admitted} of ${expected.toFixed(0)} expected (${(error * 100).toFixed(2)} % off)`);
    assert.ok(error <= 0.05, `admitted ${admitted}, expected ${expected.toFixed(0)} (${(error * 100).toFixed(1)} % off)`);
    assert.ok(counts.get(a)! > admitted * 0.2 && counts.get(b)! > admitted * 0.2, 'both instances took from the bucket');
  });

  test('Redis killed: fail-open allows, fail-closed denies, each outage reported once; Redis back: recovers', async () => {
    const rate = parseRate('1000/s')!;
    const events = { open: [] as StoreOutage[], closed: [] as StoreOutage[] };
    const open = storeFor({ failureMode: 'open', onOutage: (e) => events.open.push(e) });
    const closed = storeFor({ failureMode: 'closed', onOutage: (e) => events.closed.push(e) });
    await Promise.all([open.ready(), closed.ready()]);
    assert.equal((await open.take('kill', rate, 100)).allowed, true);
    assert.equal((await closed.take('kill', rate, 100)).allowed, true);

    await redis.kill();
    const t0 = performance.now();
    const during = { open: [] as boolean[], closed: [] as boolean[] };
    for (let i = 0; i < 50; i++) {
      const [o, c] = await Promise.all([open.take('kill', rate, 100), closed.take('kill', rate, 100)]);
      during.open.push(o.allowed && o.degraded === true);
      during.closed.push(!c.allowed && c.degraded === true);
      if (!c.allowed) assert.ok(c.retryAfterMs >= 1000, 'fail-closed still tells the client when to retry');
    }
    const outageMs = performance.now() - t0;
    assert.ok(during.open.every(Boolean), 'fail-open: every request allowed, marked degraded');
    assert.ok(during.closed.every(Boolean), 'fail-closed: every request denied, marked degraded');
    assert.ok(outageMs < 50 * 150, `requests do not wait for Redis (${outageMs.toFixed(0)} ms for 50)`);
    assert.deepEqual(events.open.map((e) => e.down), [true], 'fail-open store reported the outage once');
    assert.deepEqual(events.closed.map((e) => e.down), [true], 'fail-closed store reported the outage once');
    assert.ok(typeof events.open[0]!.error === 'string' && events.open[0]!.error !== '');

    await redis.start(); // same port, empty data set
    await waitFor('the fail-closed store to recover', async () => (await closed.take('back', rate, 100)).degraded === undefined);
    await waitFor('the fail-open store to recover', async () => (await open.take('back', rate, 100)).degraded === undefined);
    assert.deepEqual(events.open.map((e) => e.down), [true, false]);
    assert.deepEqual(events.closed.map((e) => e.down), [true, false]);
    assert.ok(events.closed[1]!.degradedRequests! >= 50, 'the recovery report counts the requests the failure mode decided');
    const after = await closed.take('after', parseRate('1/m')!, 1);
    assert.equal(after.allowed, true);
    assert.equal((await closed.take('after', parseRate('1/m')!, 1)).allowed, false, 'limits are enforced again');
  });
});

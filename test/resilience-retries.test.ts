// Retries end to end with misbehaving upstreams: a retry goes to another target, waits a jittered backoff, fits in
// the route's retry budget (a failing upstream is not hit by a retry storm), repeats only idempotent methods unless
// the route opts in, and replays a body only when it was buffered within bufferBody. Resetting and half-open
// upstreams are retried like refused ones. The basics (conditions, attempts) are in forwarding-retries.test.ts.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway } from './helpers/gateway.ts';
import { client, misbehaving, silentServer, type Misbehaving } from './helpers/misbehaving.ts';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function upstream(name: string, behaviour?: Parameters<typeof misbehaving>[1]): Promise<Misbehaving> {
  const up = await misbehaving(name, behaviour);
  cleanup.push(() => up.close());
  return up;
}

async function gateway(targets: string[], route: Record<string, unknown>, upstreamExtra: Record<string, unknown> = {}) {
  const gw = await startGateway(simpleConfig(targets, route, upstreamExtra));
  const http = Object.assign(client(gw.url), { port: gw.port });
  cleanup.push(() => gw.close(), () => http.close());
  return { gw, http };
}

const gwPort = (http: { port: number }) => http.port;

describe('where and when a retry goes', () => {
  test('a retry goes to another target: the failing one sees each request once', async () => {
    const bad = await upstream('bad', { kind: 'status', status: 503 });
    const a = await upstream('a');
    const b = await upstream('b');
    const { http } = await gateway([bad.url, a.url, b.url], { retries: { attempts: 2, on: [503] } });
    for (let i = 0; i < 12; i++) assert.equal((await http.send()).status, 200);
    const ids = bad.hits.map((h) => h.headers['x-request-id']);
    assert.ok(ids.length > 0);
    assert.equal(new Set(ids).size, ids.length, 'no request reached the failing target twice');
    assert.equal(a.hits.length + b.hits.length, 12);
  });

  test('backoff: retries wait a random time below the bound, which doubles per retry up to max', async () => {
    const a = await upstream('slow-a', { kind: 'status', status: 503 });
    const b = await upstream('slow-b', { kind: 'status', status: 503 });
    const { http } = await gateway([a.url, b.url], {
      retries: { attempts: 2, on: [503], backoff: { base: '80ms', max: '120ms' }, budget: { percent: 100 } },
    });
    const replies = await Promise.all(Array.from({ length: 10 }, () => http.send()));
    assert.ok(replies.every((r) => r.status === 503));
    const hits = [...a.hits, ...b.hits];
    assert.equal(hits.length, 30, 'one try and two retries each');
    // Per request (its x-request-id), the gaps between tries: the first below 80 ms, the second below 120 ms.
    const byRequest = new Map<string, number[]>();
    for (const h of hits) byRequest.set(h.headers['x-request-id'] as string, [...(byRequest.get(h.headers['x-request-id'] as string) ?? []), h.at]);
    const first: number[] = [];
    const second: number[] = [];
    for (const at of byRequest.values()) {
      at.sort((x, y) => x - y);
      first.push(at[1]! - at[0]!);
      second.push(at[2]! - at[1]!);
    }
    // Upper bounds with slack for a busy machine, which can only add delay.
    assert.ok(first.every((g) => g < 80 + 100), `first gaps ${first}`);
    assert.ok(second.every((g) => g < 120 + 100), `second gaps ${second}`);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(mean(first) + mean(second) > 40, `jittered, not immediate: ${mean(first)} + ${mean(second)} ms`);
  });

  test('a resetting upstream and a half-open one (accepts, never answers) are retried elsewhere', async () => {
    const resetting = await upstream('resetting', { kind: 'reset' });
    const silent = await silentServer();
    cleanup.push(() => silent.close());
    const ok = await upstream('ok');
    const { http } = await gateway([resetting.url, silent.url, ok.url], { retries: { attempts: 2, on: ['gateway-error'], perTryTimeout: '300ms' } });
    for (let i = 0; i < 3; i++) {
      const res = await http.send();
      assert.equal(res.status, 200, res.body);
      // perTryTimeout runs on undici's coarse timer: a hung try is given up after about a second.
      assert.ok(res.ms < 4000, `${res.ms} ms`);
    }
    assert.ok(resetting.hits.length >= 2);
    assert.ok(silent.accepted() >= 1);
  });
});

describe('the retry budget', () => {
  test('retries in flight stay under the budget\'s share of requests in flight; without it every request is tried 4 times', async () => {
    const failing = async (name: string) => {
      const up = await upstream(name);
      up.behave({ kind: 'status', status: 503 });
      return up;
    };
    // Both targets fail; the budget is the only thing between 20 requests and 80 tries.
    const run = async (budget: Record<string, unknown>) => {
      const a = await failing(`a-${budget.percent}`);
      const b = await failing(`b-${budget.percent}`);
      const { http } = await gateway([a.url, b.url], { retries: { attempts: 3, on: [503], budget, backoff: { base: '0ms', max: '0ms' } } });
      // Slow failures: all 20 requests are in flight together when their tries fail.
      a.behave({ kind: 'slow', ms: 150, status: 503 });
      b.behave({ kind: 'slow', ms: 150, status: 503 });
      const replies = await Promise.all(Array.from({ length: 20 }, () => http.send()));
      assert.ok(replies.every((r) => r.status === 503));
      return a.hits.length + b.hits.length;
    };
    const unlimited = await run({ percent: 100, minRetryConcurrency: 100 });
    const budgeted = await run({ percent: 20, minRetryConcurrency: 0 });
    assert.equal(unlimited, 80);
    assert.ok(budgeted < 30, `with a 20 % budget: ${budgeted} tries for 20 requests`);
    assert.ok(budgeted > 20, 'some retries fit in the budget');
  });

});

describe('what may be replayed', () => {
  test('idempotent methods are retried; POST and PATCH are not, unless the route opts in', async () => {
    const bad = await upstream('bad2', { kind: 'status', status: 503 });
    const ok = await upstream('ok2');
    const { http } = await gateway([bad.url, ok.url], { retries: { attempts: 1, on: [503] } });
    const statuses: Record<string, number[]> = {};
    for (const method of ['GET', 'PUT', 'DELETE', 'POST', 'PATCH']) {
      for (let i = 0; i < 2; i++) (statuses[method] ??= []).push((await http.send('/', { method })).status);
    }
    // Round-robin alternates bad/ok: every method meets the bad target once in two requests.
    assert.deepEqual(statuses, { GET: [200, 200], PUT: [200, 200], DELETE: [200, 200], POST: [503, 200], PATCH: [503, 200] });
    const optIn = await gateway([bad.url, ok.url], { retries: { attempts: 1, on: [503], retryNonIdempotent: true } });
    for (let i = 0; i < 4; i++) assert.equal((await optIn.http.send('/', { method: 'POST', body: 'x' })).status, 200);
  });

  test('a body within bufferBody is replayed in full on the retry, chunked or not', async () => {
    const bad = await upstream('bad3', { kind: 'status', status: 503 });
    const ok = await upstream('ok3');
    const { http } = await gateway([bad.url, ok.url], { retries: { attempts: 1, on: [503], bufferBody: '1KiB' } });
    const body = 'x'.repeat(1000);
    for (let i = 0; i < 2; i++) assert.equal((await http.send('/', { method: 'PUT', body })).status, 200);
    assert.deepEqual(bad.hits.map((h) => h.body.length), [1000, 1000], 'each tried on the failing target first');
    assert.deepEqual(ok.hits.map((h) => h.body.length), [1000, 1000], 'and replayed whole');
    // Chunked (no Content-Length): buffered while it arrives, within the limit.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: gwPort(http), method: 'PUT', path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.write('a'.repeat(300));
      setTimeout(() => req.end('b'.repeat(300)), 20);
    });
    assert.equal(status, 200);
    assert.equal(bad.hits.at(-1)!.body, 'a'.repeat(300) + 'b'.repeat(300));
    assert.equal(ok.hits.at(-1)!.body, 'a'.repeat(300) + 'b'.repeat(300));
  });

  test('a body over bufferBody streams once and is not retried; the upstream\'s answer is relayed', async () => {
    const bad = await upstream('bad4', { kind: 'status', status: 503 });
    const ok = await upstream('ok4');
    const { http } = await gateway([bad.url, ok.url], { retries: { attempts: 1, on: [503], bufferBody: '100B' } });
    const res = await http.send('/', { method: 'PUT', body: 'y'.repeat(5000) });
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-sluice-error'], undefined, "the upstream's 503");
    assert.equal(bad.hits[0]!.body.length, 5000, 'streamed whole to the one target');
    assert.equal(ok.hits.length, 0);
  });
});

// Traffic policies end to end over real sockets: the overload guard (in flight, connections, event-loop delay,
// heap) sheds with 503 overloaded and counts it; fault injection delays and aborts a share of requests; a weighted
// split sends each upstream its share (sticky by a key when asked); mirroring copies requests to a shadow that can
// be slow or down without the real request noticing.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type { ConfigInput } from '../src/config/schema.ts';
import type { Outage } from '../src/resilience/outage.ts';
import { simpleConfig, startGateway } from './helpers/gateway.ts';
import { client, closedUrl, misbehaving, percentile, waitFor, type Misbehaving } from './helpers/misbehaving.ts';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function upstream(name: string, behaviour?: Parameters<typeof misbehaving>[1]): Promise<Misbehaving> {
  const up = await misbehaving(name, behaviour);
  cleanup.push(() => up.close());
  return up;
}

async function gateway(config: ConfigInput, options: Parameters<typeof startGateway>[1] = {}) {
  const gw = await startGateway(config, options);
  const http = client(gw.url, { connections: 128 });
  cleanup.push(() => gw.close(), () => http.close());
  return { gw, http };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('overload protection', () => {
  test('maxInFlight: requests beyond it get 503 overloaded at once, and are counted', async () => {
    const slow = await upstream('slow', { kind: 'slow', ms: 300 });
    const { gw, http } = await gateway({ ...simpleConfig([slow.url]), server: { overload: { maxInFlight: 3 } } });
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => sleep(i * 5).then(() => http.send())));
    const shed = replies.filter((r) => r.status === 503);
    assert.equal(shed.length, 3);
    assert.ok(shed.every((r) => r.headers['x-sluice-error'] === 'overloaded' && r.ms < 250), 'shed at once, not after the slow upstream');
    assert.equal(replies.filter((r) => r.status === 200).length, 3);
    assert.equal(gw.gateway.overloadReport().shed.max_in_flight, 3);
    assert.equal((await http.send()).status, 200, 'room again once they finished');
  });

  test('maxConnections: a connection beyond it is closed at accept, and counted', async () => {
    const up = await upstream('c');
    const { gw } = await gateway({ ...simpleConfig([up.url]), server: { overload: { maxConnections: 2 } } });
    const open = await Promise.all([0, 1].map(() => connect(gw.port)));
    const third = await connect(gw.port);
    const closed = await new Promise<boolean>((resolve) => {
      third.once('close', () => resolve(true));
      third.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
      setTimeout(() => resolve(false), 2000);
    });
    assert.equal(closed, true);
    assert.equal(gw.gateway.overloadReport().droppedConnections, 1);
    for (const s of open) s.destroy();
  });

  test('event-loop delay: after a stall the gateway sheds until the loop is responsive again', async () => {
    const up = await upstream('eld');
    const { gw, http } = await gateway({ ...simpleConfig([up.url]), server: { overload: { maxEventLoopDelay: '50ms', sampleInterval: '300ms' } } });
    assert.equal((await http.send()).status, 200);
    await sleep(50); // the loop-delay monitor's first tick only starts its clock: a stall before it goes unseen
    const until = performance.now() + 200;
    while (performance.now() < until) {
      // a stall: the event loop is blocked for 200 ms
    }
    await waitFor('shedding', async () => (await http.send()).headers['x-sluice-error'] === 'overloaded', 2000);
    await waitFor('recovery', async () => (await http.send()).status === 200, 3000);
    assert.ok(gw.gateway.overloadReport().shed.event_loop_delay! >= 1);
  });

  test('heap: above maxHeapPercent everything is shed', async () => {
    const up = await upstream('heap');
    const { gw, http } = await gateway({ ...simpleConfig([up.url]), server: { overload: { maxHeapPercent: 0.01, sampleInterval: '20ms' } } });
    await waitFor('shedding', async () => (await http.send()).headers['x-sluice-error'] === 'overloaded', 2000);
    assert.ok(gw.gateway.overloadReport().heapPercent > 0.01);
    const hits = up.hits.length;
    for (let i = 0; i < 5; i++) assert.equal((await http.send()).headers['x-sluice-error'], 'overloaded');
    assert.equal(up.hits.length, hits);
    assert.ok(gw.gateway.overloadReport().shed.heap! >= 6);
  });
});

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('fault injection', () => {
  test('abort: the configured status with x-sluice-error fault_injected, never forwarded', async () => {
    const up = await upstream('f1');
    const { http } = await gateway(simpleConfig([up.url], { faultInjection: { abort: { status: 418, percent: 100 } } }));
    const res = await http.send();
    assert.equal(res.status, 418);
    assert.equal(res.headers['x-sluice-error'], 'fault_injected');
    assert.match(res.body, /"code":"fault_injected"/);
    assert.equal(up.hits.length, 0);
  });

  test('delay: forwarded after the delay; a share of requests by percent', async () => {
    const up = await upstream('f2');
    const delayed = await gateway(simpleConfig([up.url], { faultInjection: { delay: { duration: '150ms', percent: 100 } } }));
    const res = await delayed.http.send();
    assert.equal(res.status, 200);
    assert.ok(res.ms >= 145, `${res.ms} ms`);
    const half = await gateway(simpleConfig([up.url], { faultInjection: { abort: { status: 503, percent: 50 } } }));
    const replies = await Promise.all(Array.from({ length: 400 }, () => half.http.send()));
    const aborted = replies.filter((r) => r.headers['x-sluice-error'] === 'fault_injected').length;
    assert.ok(aborted > 140 && aborted < 260, `${aborted} of 400 aborted at 50 %`);
  });

  test('a client that leaves during the delay is never forwarded', async () => {
    const up = await upstream('f3');
    const { http } = await gateway(simpleConfig([up.url], { faultInjection: { delay: { duration: '300ms', percent: 100 } } }));
    await http.send('/', { signal: AbortSignal.timeout(50) }).catch(() => undefined);
    await sleep(400);
    assert.equal(up.hits.length, 0);
  });
});

describe('traffic split', () => {
  test('match-based canary: a request with the canary cookie (or header) takes the canary route, others the stable one', async () => {
    const [stable, canary] = await Promise.all([upstream('stable'), upstream('canary')]);
    const { http } = await gateway({
      upstreams: [{ name: 'stable', targets: [{ url: stable.url }] }, { name: 'canary', targets: [{ url: canary.url }] }],
      routes: [
        { name: 'users', match: { pathPrefix: '/api' }, upstream: 'stable' },
        { name: 'users-canary-cookie', match: { pathPrefix: '/api', cookies: { canary: 'true' } }, upstream: 'canary' },
        { name: 'users-canary-header', match: { pathPrefix: '/api', headers: { 'x-canary': '1' } }, upstream: 'canary' },
      ],
    });
    const side = async (headers: Record<string, string>) => (await http.send('/api/x', { headers })).headers['x-upstream'];
    assert.equal(await side({}), 'stable');
    assert.equal(await side({ cookie: 'session=abc; canary=true' }), 'canary');
    assert.equal(await side({ cookie: 'canary=false' }), 'stable');
    assert.equal(await side({ 'x-canary': '1' }), 'canary');
  });

  function splitConfig(stable: Misbehaving, canary: Misbehaving, weights: [number, number], route: Record<string, unknown> = {}): ConfigInput {
    return {
      upstreams: [
        { name: 'stable', targets: [{ url: stable.url }] },
        { name: 'canary', targets: [{ url: canary.url }] },
      ],
      routes: [{ name: 'split', upstreams: [{ name: 'stable', weight: weights[0] }, { name: 'canary', weight: weights[1] }], ...route }],
    } as ConfigInput;
  }

  async function shares(http: ReturnType<typeof client>, n: number, headers?: (i: number) => Record<string, string>): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    let i = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (i < n) {
          const res = await http.send('/', { headers: headers?.(i) });
          i++;
          const side = String(res.headers['x-upstream']);
          counts[side] = (counts[side] ?? 0) + 1;
        }
      }),
    );
    return counts;
  }

  test('a 5 % canary gets 5 % of 10,000 requests; a reload to 50 % moves the share', async () => {
    const stable = await upstream('stable');
    const canary = await upstream('canary');
    const { gw, http } = await gateway(splitConfig(stable, canary, [95, 5]));
    const first = await shares(http, 10_000);
    assert.ok(Math.abs(((first.canary ?? 0) / 10_000) * 100 - 5) <= 2, `canary share ${JSON.stringify(first)}`);
    await gw.apply(splitConfig(stable, canary, [50, 50]));
    const second = await shares(http, 2000);
    assert.ok(Math.abs(((second.canary ?? 0) / 2000) * 100 - 50) <= 2, `canary share after the reload ${JSON.stringify(second)}`);
  });

  test('sticky: one user always lands on one side; raising the weight only moves users to the canary', async () => {
    const stable = await upstream('sstable');
    const canary = await upstream('scanary');
    const route = { stickyOn: { header: 'x-user' } };
    const { gw, http } = await gateway(splitConfig(stable, canary, [80, 20], route));
    const sideOf = async () => {
      const sides = new Map<string, string>();
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          Array.from({ length: 500 }, async (_, u) => {
            const side = String((await http.send('/', { headers: { 'x-user': `user-${u}` } })).headers['x-upstream']);
            const known = sides.get(`user-${u}`);
            assert.ok(known === undefined || known === side, `user-${u} switched sides`);
            sides.set(`user-${u}`, side);
          }),
        );
      }
      return sides;
    };
    const at20 = await sideOf();
    const onCanary = [...at20.values()].filter((s) => s === 'scanary').length;
    assert.ok(onCanary > 60 && onCanary < 140, `${onCanary} of 500 users on a 20 % canary`);
    await gw.apply(splitConfig(stable, canary, [50, 50], route));
    const at50 = await sideOf();
    for (const [user, side] of at20) if (side === 'scanary') assert.equal(at50.get(user), 'scanary', `${user} moved back`);
    const now = [...at50.values()].filter((s) => s === 'scanary').length;
    assert.ok(now > 200 && now < 300, `${now} of 500 users on a 50 % canary`);
  });
});

describe('mirroring', () => {
  test('every request is copied to the shadow; its answer is discarded', async () => {
    const main = await upstream('main');
    const shadow = await upstream('shadow', { kind: 'status', status: 500 });
    const { http } = await gateway({
      upstreams: [{ name: 'main', targets: [{ url: main.url }] }, { name: 'shadow', targets: [{ url: shadow.url }] }],
      routes: [{ name: 'm', upstream: 'main', mirror: { upstream: 'shadow' } }],
    } as ConfigInput);
    for (let i = 0; i < 5; i++) {
      const res = await http.send(`/x?i=${i}`);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'main');
    }
    await waitFor('the copies', () => shadow.hits.length === 5);
    assert.deepEqual(shadow.hits.map((h) => h.path), main.hits.map((h) => h.path));
  });

  test('a hanging shadow delays nothing: copies are capped and skipped', async () => {
    const main = await upstream('main2');
    const shadow = await upstream('hanging', { kind: 'hang' });
    const { http } = await gateway({
      upstreams: [{ name: 'main', targets: [{ url: main.url }] }, { name: 'shadow', targets: [{ url: shadow.url }] }],
      routes: [{ name: 'm', upstream: 'main', mirror: { upstream: 'shadow', maxConcurrent: 5, timeout: '10s' } }],
    } as ConfigInput);
    const replies = await Promise.all(Array.from({ length: 50 }, () => http.send()));
    assert.ok(replies.every((r) => r.status === 200));
    assert.ok(percentile(replies.map((r) => r.ms), 95) < 1000, `p95 ${percentile(replies.map((r) => r.ms), 95)} ms, the shadow hangs for 10 s`);
    await sleep(100);
    assert.equal(shadow.hits.length, 5, 'no more than maxConcurrent copies wait on the shadow');
  });

  test('a dead shadow fails no request; the outage is reported once', async () => {
    const main = await upstream('main3');
    const outages: Outage[] = [];
    const { http } = await gateway(
      {
        upstreams: [{ name: 'main', targets: [{ url: main.url }] }, { name: 'shadow', targets: [{ url: await closedUrl() }] }],
        routes: [{ name: 'm', upstream: 'main', mirror: { upstream: 'shadow' } }],
      } as ConfigInput,
      { onOutage: (o) => outages.push(o) },
    );
    for (let i = 0; i < 20; i++) assert.equal((await http.send()).status, 200);
    await waitFor('the outage report', () => outages.length > 0);
    await sleep(100);
    assert.deepEqual(outages.map((o) => [o.store, o.down]), [['mirror:shadow', true]]);
  });

  test('percent samples the copies; a body is copied when the route buffered it for retries', async () => {
    const main = await upstream('main4');
    const shadow = await upstream('shadow4');
    const config = (route: Record<string, unknown>) =>
      ({
        upstreams: [{ name: 'main', targets: [{ url: main.url }] }, { name: 'shadow', targets: [{ url: shadow.url }] }],
        routes: [{ name: 'm', upstream: 'main', mirror: { upstream: 'shadow', percent: 50 }, ...route }],
      }) as ConfigInput;
    const sampled = await gateway(config({}));
    await Promise.all(Array.from({ length: 400 }, () => sampled.http.send()));
    await sleep(200);
    assert.ok(shadow.hits.length > 140 && shadow.hits.length < 260, `${shadow.hits.length} of 400 copied at 50 %`);

    const before = shadow.hits.length;
    const buffered = await gateway(config({ mirror: { upstream: 'shadow' }, retries: { attempts: 1 } }));
    await buffered.http.send('/', { method: 'PUT', body: 'payload' });
    await waitFor('the copy with its body', () => shadow.hits.length === before + 1);
    assert.equal(shadow.hits.at(-1)!.body, 'payload');
    const streamed = await gateway(config({ mirror: { upstream: 'shadow' } }));
    await streamed.http.send('/', { method: 'PUT', body: 'payload' });
    await sleep(100);
    assert.equal(shadow.hits.length, before + 1, 'a streamed body is not copied');
  });
});

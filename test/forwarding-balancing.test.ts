// Load balancing end to end, through real sockets: the policy a config names decides which upstream server
// answers. The balancers' own unit suites live beside them (src/upstream/balancers); this pins the wiring.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

function get(port: number, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  });
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function upstreams(...names: string[]): Promise<TestUpstream[]> {
  return Promise.all(
    names.map(async (name) => {
      const up = await startUpstream(name);
      closers.push(() => up.close());
      return up;
    }),
  );
}

async function gatewayFor(targets: Array<{ url: string; weight?: number }>, upstream: Record<string, unknown>): Promise<TestGateway> {
  const config = simpleConfig([], {}, upstream) as { upstreams: Array<{ targets: unknown }> };
  config.upstreams[0]!.targets = targets;
  const gw = await startGateway(config as Parameters<typeof startGateway>[0]);
  closers.push(() => gw.close());
  return gw;
}

async function sequence(n: number, send: (i: number) => Promise<string>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await send(i));
  return out;
}

describe('load balancing', () => {
  test('round-robin alternates', async () => {
    const [a, b] = await upstreams('a', 'b');
    const gw = await gatewayFor([{ url: a!.url }, { url: b!.url }], { loadBalancer: 'round-robin' });
    assert.deepEqual(await sequence(6, () => get(gw.port)), ['a', 'b', 'a', 'b', 'a', 'b']);
  });

  test('weighted splits by weight', async () => {
    const [a, b] = await upstreams('a', 'b');
    const gw = await gatewayFor([{ url: a!.url, weight: 3 }, { url: b!.url, weight: 1 }], { loadBalancer: 'weighted' });
    const answers = await sequence(40, () => get(gw.port));
    assert.equal(answers.filter((x) => x === 'a').length, 30);
    assert.equal(answers.filter((x) => x === 'b').length, 10);
  });

  test('consistent-hash on a header sticks each key to one target', async () => {
    const [a, b, c] = await upstreams('a', 'b', 'c');
    const gw = await gatewayFor([{ url: a!.url }, { url: b!.url }, { url: c!.url }], {
      loadBalancer: 'consistent-hash',
      hashOn: { header: 'X-User' },
    });
    const seen = new Set<string>();
    for (let user = 0; user < 12; user++) {
      const answers = new Set(await sequence(5, () => get(gw.port, { 'x-user': `user-${user}` })));
      assert.equal(answers.size, 1, `user-${user} moved between targets: ${[...answers]}`);
      seen.add([...answers][0]!);
    }
    assert.ok(seen.size >= 2, 'different keys spread over the targets');
  });

  test('least-request prefers the idle target while another is busy', async () => {
    const held: http.ServerResponse[] = [];
    const slow = await startUpstream('slow', (_req, res) => held.push(res)); // answers only when released
    closers.push(async () => {
      for (const res of held) res.end('slow');
      await slow.close();
    });
    const [fast] = await upstreams('fast');
    const gw = await gatewayFor([{ url: slow.url }, { url: fast!.url }], { loadBalancer: 'least-request' });
    // Send until one request sticks on the slow target (an idle tie goes either way).
    const pending: Array<Promise<string>> = [];
    for (let i = 0; i < 50 && held.length === 0; i++) {
      pending.push(get(gw.port));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(held.length, 1, 'exactly one request holds the slow target');
    assert.deepEqual(await sequence(10, () => get(gw.port)), Array(10).fill('fast'));
    held[0]!.end('slow');
    const answers = await Promise.all(pending);
    assert.equal(answers.filter((x) => x === 'slow').length, 1);
  });
});

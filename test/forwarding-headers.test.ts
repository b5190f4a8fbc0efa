// What the upstream sees of the request head, and what the client sees of the response head: hop-by-hop fields
// (RFC 9110 §7.6.1), X-Forwarded-* and Forwarded (RFC 7239) with and without trusted proxies, the request id,
// Host, path rewrites and the routes' header operations. Real sockets throughout.
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { rawRequest } from './helpers/raw-client.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over a fresh connection; every wait is bounded. */
function send(port: number, path: string, headers: Record<string, string | string[]> = {}, options: { host?: string; method?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: options.host ?? '127.0.0.1', port, path, method: options.method ?? 'GET', headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** An upstream that answers every request with exactly these bytes (for response heads node:http would tidy). */
async function rawUpstream(response: string): Promise<{ url: string; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        heads.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 4);
        socket.write(response);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heads,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function upstream(name = 'up', handler?: Parameters<typeof startUpstream>[1]): Promise<TestUpstream> {
  const u = await startUpstream(name, handler);
  closers.push(() => u.close());
  return u;
}

async function gateway(config: Parameters<typeof startGateway>[0]): Promise<TestGateway> {
  const gw = await startGateway(config);
  closers.push(() => gw.close());
  return gw;
}

describe('hop-by-hop fields (RFC 9110 §7.6.1)', () => {
  test('request: Connection, the fields it names, Keep-Alive, Proxy-Connection, TE, Trailer and Upgrade are not forwarded', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url]));
    const res = await rawRequest(
      gw.port,
      'GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, X-Secret\r\nConnection: X-Other\r\nX-Secret: s\r\nX-Other: o\r\n' +
        'Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-Checksum\r\nUpgrade: h2c\r\n' +
        'X-Kept: yes\r\n\r\n',
      { responses: 1 },
    );
    assert.equal(res.status, 200);
    const seen = up.received[0]!.headers;
    for (const name of ['x-secret', 'x-other', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']) {
      assert.equal(seen[name], undefined, `${name} must not reach the upstream`);
    }
    assert.doesNotMatch(String(seen.connection ?? ''), /secret|other/i);
    assert.equal(seen['x-kept'], 'yes');
  });

  test('response: Connection, the fields it names, Keep-Alive, Proxy-Connection, Upgrade and Trailer are not relayed', async () => {
    const up = await rawUpstream(
      'HTTP/1.1 200 OK\r\nConnection: X-Internal, keep-alive\r\nConnection: X-Debug\r\nX-Internal: secret\r\nX-Debug: d\r\n' +
        'Keep-Alive: timeout=77\r\nProxy-Connection: keep-alive\r\nUpgrade: foo\r\nTrailer: X-Sum\r\nX-Public: p\r\nContent-Length: 2\r\n\r\nok',
    );
    closers.push(() => up.close());
    const gw = await gateway(simpleConfig([up.url]));
    const res = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: a.test\r\n\r\n', { responses: 1 });
    assert.equal(res.status, 200);
    const head = res.text.slice(0, res.text.indexOf('\r\n\r\n')).toLowerCase();
    for (const name of ['x-internal', 'x-debug', 'proxy-connection', 'upgrade', 'trailer']) {
      assert.doesNotMatch(head, new RegExp(`\r\n${name}:`), `${name} must not reach the client`);
    }
    // Sluice's own hop may say keep-alive; the upstream's values must not come through.
    assert.doesNotMatch(head, /timeout=77/);
    assert.doesNotMatch(head, /connection: [^\r]*(x-internal|x-debug)/);
    assert.match(head, /\r\nx-public: p/);
    assert.ok(res.text.endsWith('\r\n\r\nok'));
  });
});

describe('X-Forwarded-* and Forwarded (RFC 7239)', () => {
  const spoofed = {
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'evil.test',
    forwarded: 'for=6.6.6.6;proto=https',
  };

  test('an untrusted peer cannot spoof: every client-supplied value is replaced', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url]));
    const res = await send(gw.port, '/', { ...spoofed, host: 'shop.test:8443' });
    assert.equal(res.status, 200);
    const seen = up.received[0]!.headers;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['x-forwarded-host'], 'shop.test:8443');
    assert.equal(seen.forwarded, 'for=127.0.0.1;host="shop.test:8443";proto=http');
  });

  test('a trusted peer has its values extended', async () => {
    const up = await upstream();
    const gw = await gateway({ ...simpleConfig([up.url]), server: { trustedProxies: ['127.0.0.1/8'] } });
    const res = await send(gw.port, '/', { ...spoofed, host: 'shop.test' });
    assert.equal(res.status, 200);
    const seen = up.received[0]!.headers;
    assert.equal(seen['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-host'], 'evil.test');
    assert.equal(seen.forwarded, 'for=6.6.6.6;proto=https, for=127.0.0.1;host=shop.test;proto=http');
  });

  test('an IPv6 peer is bracketed and quoted in Forwarded', async (t) => {
    const up = await upstream();
    let gw: TestGateway;
    try {
      gw = await gateway({ ...simpleConfig([up.url]), listeners: [{ name: 'v6', address: '[::1]:0' }] });
    } catch (err) {
      return t.skip(`no IPv6 loopback here: ${(err as Error).message}`);
    }
    const res = await send(gw.port, '/', { host: 'v6.test' }, { host: '::1' });
    assert.equal(res.status, 200);
    const seen = up.received[0]!.headers;
    assert.equal(seen['x-forwarded-for'], '::1');
    assert.equal(seen.forwarded, 'for="[::1]";host=v6.test;proto=http');
  });

  test('consistent hashing by client ip uses the rightmost untrusted X-Forwarded-For hop', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const gw = await gateway({
      ...simpleConfig([a.url, b.url], {}, { loadBalancer: 'consistent-hash', hashOn: 'client-ip' }),
      server: { trustedProxies: ['127.0.0.0/8', '10.0.0.0/8'] },
    });
    // Whatever the client wrote to the left of the first hop we trust does not move it.
    const sticky = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const res = await send(gw.port, '/', { 'x-forwarded-for': `1.1.${i}.${i}, 5.5.5.5, 10.0.0.7` });
      sticky.add(res.body);
    }
    assert.equal(sticky.size, 1, 'spoofed left-hand hops must not change the hash key');
    // While the hop itself does pick the target: different clients spread over both.
    const spread = new Set<string>();
    for (let i = 0; i < 32 && spread.size < 2; i++) {
      spread.add((await send(gw.port, '/', { 'x-forwarded-for': `5.5.${i}.${i * 7}, 10.0.0.7` })).body);
    }
    assert.equal(spread.size, 2);
  });
});

describe('request id', () => {
  test('a sane incoming id is kept, forwarded and echoed', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url]));
    const res = await send(gw.port, '/', { 'x-request-id': 'abc-123_XYZ' });
    assert.equal(res.headers['x-request-id'], 'abc-123_XYZ');
    assert.equal(up.received[0]!.headers['x-request-id'], 'abc-123_XYZ');
  });

  test('a missing id is generated as a UUID, forwarded and echoed', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url]));
    const res = await send(gw.port, '/');
    assert.match(String(res.headers['x-request-id']), UUID);
    assert.equal(up.received[0]!.headers['x-request-id'], res.headers['x-request-id']);
  });

  test('an insane id (too long, control characters, spaces) is replaced', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url]));
    for (const insane of ['x'.repeat(201), 'a\tb', 'a b', 'caf\u00e9']) {
      const res = await rawRequest(gw.port, Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${insane}\r\n\r\n`, 'latin1'), { responses: 1 });
      assert.equal(res.status, 200, JSON.stringify(insane));
      const echoed = /\r\nx-request-id: ([^\r]*)/i.exec(res.text)?.[1];
      assert.match(String(echoed), UUID, JSON.stringify(insane));
    }
    for (const r of up.received) assert.match(String(r.headers['x-request-id']), UUID);
  });

  test("Sluice's own error responses carry the id too", async () => {
    const closed = await closedPort();
    const gw = await gateway({
      upstreams: [{ name: 'gone', targets: [{ url: `http://127.0.0.1:${closed}` }] }],
      routes: [{ name: 'gone', match: { pathPrefix: '/gone' }, upstream: 'gone' }],
    });
    const notFound = await send(gw.port, '/nowhere', { 'x-request-id': 'id-404' });
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers['x-request-id'], 'id-404');
    assert.equal(JSON.parse(notFound.body).error.requestId, 'id-404');
    const badGateway = await send(gw.port, '/gone');
    assert.equal(badGateway.status, 502);
    assert.equal(badGateway.headers['x-sluice-error'], 'upstream_connect_failed');
    assert.match(String(badGateway.headers['x-request-id']), UUID);
    assert.equal(JSON.parse(badGateway.body).error.requestId, badGateway.headers['x-request-id']);
  });

  test('server.requestIdHeader names the header in both directions', async () => {
    const up = await upstream();
    const gw = await gateway({ ...simpleConfig([up.url], { match: { pathPrefix: '/in' } }), server: { requestIdHeader: 'X-Correlation-Id' } });
    const res = await send(gw.port, '/in', { 'x-correlation-id': 'corr-1', 'x-request-id': 'other' });
    assert.equal(res.headers['x-correlation-id'], 'corr-1');
    assert.equal(up.received[0]!.headers['x-correlation-id'], 'corr-1');
    assert.equal(up.received[0]!.headers['x-request-id'], 'other', 'the default name is an ordinary header now');
    const generated = await send(gw.port, '/in');
    assert.match(String(generated.headers['x-correlation-id']), UUID);
    const notFound = await send(gw.port, '/out', { 'x-correlation-id': 'corr-404' });
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers['x-correlation-id'], 'corr-404');
  });
});

describe('Host', () => {
  test("the client's Host is preserved by default", async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url]));
    await send(gw.port, '/', { host: 'public.test:9999' });
    assert.equal(up.received[0]!.headers.host, 'public.test:9999');
  });

  test('hostHeader: target sends the authority of the target actually used, also after a retry', async () => {
    const closed = await closedPort();
    const up = await upstream();
    const gw = await gateway(simpleConfig([`http://127.0.0.1:${closed}`, up.url], { hostHeader: 'target', retries: { attempts: 1, on: ['connect-failure'] } }));
    // A header whose value is "host" must not confuse the rewrite.
    for (let i = 0; i < 2; i++) {
      const res = await send(gw.port, '/', { host: 'public.test', 'x-which': 'host' });
      assert.equal(res.status, 200);
    }
    for (const r of up.received) {
      assert.equal(r.headers.host, `127.0.0.1:${up.port}`);
      assert.equal(r.headers['x-which'], 'host');
    }
  });

  test('requestHeaders.set.host replaces Host (one Host, never two)', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url], { requestHeaders: { set: { Host: 'ops.internal' } } }));
    const res = await send(gw.port, '/', { host: 'public.test' });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(valuesOf(up.received[0]!.rawHeaders, 'host'), ['ops.internal']);
  });

  test('hostHeader: a literal host name', async () => {
    const up = await upstream();
    const gw = await gateway(simpleConfig([up.url], { hostHeader: 'api.internal' }));
    await send(gw.port, '/', { host: 'public.test' });
    assert.equal(up.received[0]!.headers.host, 'api.internal');
    assert.equal(up.received[0]!.headers['x-forwarded-host'], 'public.test');
  });
});

describe('path rewrites keep the query string intact', () => {
  const query = '?a=1&b=%2F%3F&c=/x?y#';
  const cases = [
    { desc: 'stripPrefix', route: { match: { pathPrefix: '/api' }, stripPrefix: '/api' }, path: '/api/users/7', want: '/users/7' },
    { desc: 'stripPrefix of the whole path', route: { match: { pathPrefix: '/api' }, stripPrefix: '/api' }, path: '/api', want: '/' },
    { desc: 'rewrite.prefix', route: { match: { pathPrefix: '/old' }, rewrite: { prefix: '/new/v2' } }, path: '/old/a/b', want: '/new/v2/a/b' },
    {
      desc: 'stripPrefix then rewrite.prefix',
      route: { match: { pathPrefix: '/api/users' }, stripPrefix: '/api', rewrite: { prefix: '/people' } },
      path: '/api/users/3',
      want: '/people/3',
    },
    {
      desc: 'rewrite.regex',
      route: { match: { pathPrefix: '/v1' }, rewrite: { regex: '^/v1/([^/]+)/(.*)$', replacement: '/internal/$2/$1' } },
      path: '/v1/orders/42',
      want: '/internal/42/orders',
    },
  ];
  for (const c of cases) {
    test(c.desc, async () => {
      const up = await upstream();
      const gw = await gateway(simpleConfig([up.url], c.route));
      const res = await send(gw.port, c.path + query);
      assert.equal(res.status, 200);
      // "#…" never leaves the client in a real browser; a raw one that sends it gets it dropped.
      assert.equal(up.received[0]!.url, c.want + query.slice(0, -1));
    });
  }
});

test('a rewrite that yields an invalid path is a 500 internal_error, not blamed on the upstream', async () => {
  const up = await upstream();
  const gw = await gateway(simpleConfig([up.url], { rewrite: { regex: '^/(.*)$', replacement: '/with space/$1' }, retries: { attempts: 2, on: ['5xx'] } }));
  const res = await send(gw.port, '/x');
  assert.equal(res.status, 500);
  assert.equal(res.headers['x-sluice-error'], 'internal_error');
  assert.equal(up.received.length, 0);
});

describe('route header operations', () => {
  test('request headers: add appends, set replaces, remove drops', async () => {
    const up = await upstream();
    const gw = await gateway(
      simpleConfig([up.url], {
        requestHeaders: { add: { 'X-Tag': 'gw' }, set: { 'X-Env': 'prod' }, remove: ['X-Drop', 'Cookie'] },
      }),
    );
    await send(gw.port, '/', { 'x-tag': 'client', 'x-env': 'dev', 'x-drop': '1', cookie: 'a=b', 'x-keep': 'k' });
    const seen = up.received[0]!;
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-tag'), ['client', 'gw']);
    assert.deepEqual(valuesOf(seen.rawHeaders, 'x-env'), ['prod']);
    assert.equal(seen.headers['x-drop'], undefined);
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers['x-keep'], 'k');
  });

  test('response headers: add appends, set replaces, remove drops', async () => {
    const up = await upstream('up', (_req, res) => {
      res.setHeader('x-tag', 'up');
      res.setHeader('x-env', 'dev');
      res.setHeader('server', 'secret/1.0');
      res.end('ok');
    });
    const gw = await gateway(
      simpleConfig([up.url], {
        responseHeaders: { add: { 'X-Tag': 'gw' }, set: { 'X-Env': 'prod' }, remove: ['Server'] },
      }),
    );
    const res = await rawRequest(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', { responses: 1 });
    assert.equal(res.status, 200);
    assert.deepEqual(valuesOf(headLines(res.text), 'x-tag'), ['up', 'gw']);
    assert.deepEqual(valuesOf(headLines(res.text), 'x-env'), ['prod']);
    assert.deepEqual(valuesOf(headLines(res.text), 'server'), []);
  });
});

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function valuesOf(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

function headLines(text: string): string[] {
  const out: string[] = [];
  for (const line of text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    out.push(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

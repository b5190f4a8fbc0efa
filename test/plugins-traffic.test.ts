// The traffic plugins from the outside: CORS (preflights allowed and refused, Vary, credentials with the origin
// echoed, subdomain patterns, CORS fields on a 401), ip-restriction (IPv4, IPv6 CIDRs, a real IPv6 client, and
// X-Forwarded-For only believed from trusted proxies), request-size-limit (declared and streamed), headers with
// templates, request-id, redirects (HTTP→HTTPS, templated) and static responses.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import type { ConfigInput } from '../src/config/schema.ts';
import { simpleConfig, startGateway } from './helpers/gateway.ts';
import { client } from './helpers/misbehaving.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

let up: TestUpstream;
async function upstream(): Promise<TestUpstream> {
  if (up === undefined) {
    // Answers with a Vary of its own, to see CORS add to it rather than replace it.
    up = await startUpstream('app', (_req, res) => res.writeHead(200, { vary: 'Accept-Encoding', 'content-type': 'text/plain' }).end('app'));
    cleanup.push(() => up.close());
  }
  return up;
}

async function routeWith(plugins: unknown[], extra: Record<string, unknown> = {}) {
  const u = await upstream();
  const gw = await startGateway({ ...simpleConfig([u.url], { plugins }), consumers: [{ id: 'alice', groups: ['staff'], keys: [{ key: 'alice-key-0123456789' }] }], ...extra } as ConfigInput);
  const c = client(gw.url);
  cleanup.push(() => gw.close(), () => c.close());
  return { gw, send: c.send };
}

const preflight = (origin: string, method = 'PUT', headers?: string) => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': method, ...(headers === undefined ? {} : { 'access-control-request-headers': headers }) },
});

describe('cors', () => {
  test('a preflight from an allowed origin is answered here: 204, the allowed methods, the asked headers, max-age, Vary', async () => {
    const { send } = await routeWith([{ cors: { origins: ['https://app.example.com'], maxAge: '10m' } }]);
    const before = up.received.length;
    const res = await send('/items', preflight('https://app.example.com', 'PUT', 'Content-Type, X-Trace'));
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, PUT, PATCH, POST, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-trace');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
    assert.equal(res.body, '');
    assert.equal(res.headers['content-length'], undefined, 'RFC 9110 §8.6: a 204 has no Content-Length');
    assert.equal(up.received.length, before, 'a preflight never reaches the upstream');
  });

  test('a preflight for an origin, method or header not allowed gets 403 cors_rejected and no CORS grant', async () => {
    const { send } = await routeWith([{ cors: { origins: ['https://app.example.com'], methods: ['GET', 'POST'], allowHeaders: ['content-type'] } }]);
    for (const [origin, method, headers] of [
      ['https://evil.example.com', 'GET', undefined],
      ['https://app.example.com.evil.test', 'GET', undefined],
      ['https://app.example.com', 'DELETE', undefined],
      ['https://app.example.com', 'POST', 'content-type, x-admin'],
    ] as const) {
      const res = await send('/', preflight(origin, method, headers));
      assert.equal(res.status, 403, `${origin} ${method} ${headers}`);
      assert.equal(res.headers['x-sluice-error'], 'cors_rejected');
      assert.equal(res.headers['access-control-allow-origin'], undefined);
    }
    const ok = await send('/', preflight('https://app.example.com', 'POST', 'Content-Type'));
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-headers'], 'content-type');
  });

  test('OPTIONS without Access-Control-Request-Method is an ordinary request and goes upstream', async () => {
    const { send } = await routeWith([{ cors: { origins: ['https://app.example.com'] } }]);
    const before = up.received.length;
    const res = await send('/', { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 200);
    assert.equal(up.received.length, before + 1);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
  });

  test('actual requests: the origin is granted (or not) and Vary: Origin joins the upstream\'s Vary', async () => {
    const { send } = await routeWith([{ cors: { origins: ['https://app.example.com'], exposeHeaders: ['x-total'] } }]);
    const allowed = await send('/', { headers: { origin: 'https://app.example.com' } });
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(allowed.headers['access-control-expose-headers'], 'x-total');
    assert.equal(allowed.headers.vary, 'Accept-Encoding, Origin');
    const other = await send('/', { headers: { origin: 'https://evil.example.com' } });
    assert.equal(other.status, 200, 'the server answers; the browser keeps the answer from the script');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(other.headers.vary, 'Accept-Encoding, Origin');
    const none = await send('/');
    assert.equal(none.headers['access-control-allow-origin'], undefined);
    assert.equal(none.headers.vary, 'Accept-Encoding, Origin', 'caches must keep a no-Origin answer apart too');
  });

  test('with credentials, "*" echoes the origin (never "*", never "null"); subdomain patterns match subdomains only', async () => {
    const { send } = await routeWith([{ cors: { origins: ['*'], credentials: true } }]);
    const res = await send('/', { headers: { origin: 'https://any.test' } });
    assert.equal(res.headers['access-control-allow-origin'], 'https://any.test');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal((await send('/', { headers: { origin: 'null' } })).headers['access-control-allow-origin'], undefined);
    const wide = await routeWith([{ cors: { origins: ['*'] } }]);
    const star = await wide.send('/', { headers: { origin: 'https://any.test' } });
    assert.equal(star.headers['access-control-allow-origin'], '*');
    assert.equal(star.headers.vary, 'Accept-Encoding', 'a "*" grant does not vary by origin');
    const sub = await routeWith([{ cors: { origins: ['https://*.example.com'] } }]);
    const grant = async (origin: string) => (await sub.send('/', { headers: { origin } })).headers['access-control-allow-origin'];
    assert.equal(await grant('https://app.example.com'), 'https://app.example.com');
    assert.equal(await grant('https://a.b.example.com'), 'https://a.b.example.com');
    assert.equal(await grant('https://example.com'), undefined);
    assert.equal(await grant('https://evilexample.com'), undefined);
    assert.equal(await grant('http://app.example.com'), undefined);
  });

  test('an error answered by a plugin further in (401) still carries the CORS grant, so the page can read it', async () => {
    const { send } = await routeWith([{ cors: { origins: ['https://app.example.com'] } }, { 'key-auth': {} }]);
    const res = await send('/', { headers: { origin: 'https://app.example.com' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers.vary, 'Origin');
  });
});

describe('ip-restriction', () => {
  test('IPv4: allow and deny by CIDR, deny winning', async () => {
    assert.equal((await (await routeWith([{ 'ip-restriction': { allow: ['127.0.0.0/8'] } }])).send('/')).status, 200);
    const denied = await (await routeWith([{ 'ip-restriction': { allow: ['127.0.0.0/8'], deny: ['127.0.0.1'] } }])).send('/');
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-sluice-error'], 'forbidden');
    assert.equal((await (await routeWith([{ 'ip-restriction': { allow: ['10.0.0.0/8'] } }])).send('/')).status, 403);
  });

  test('a real IPv6 client is matched against IPv6 CIDRs', async () => {
    const u = await upstream();
    const start = async (rule: Record<string, unknown>) => {
      const gw = await startGateway({ ...simpleConfig([u.url], { plugins: [{ 'ip-restriction': rule }] }), listeners: [{ name: 'v6', address: '[::1]:0' }] } as ConfigInput);
      cleanup.push(() => gw.close());
      return new Promise<number>((resolve, reject) => {
        http.get({ host: '::1', port: gw.port, path: '/' }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on('error', reject);
      });
    };
    assert.equal(await start({ allow: ['::1/128'] }), 200);
    assert.equal(await start({ allow: ['2001:db8::/32'] }), 403);
    assert.equal(await start({ deny: ['::/0'] }), 403);
    assert.equal(await start({ allow: ['127.0.0.0/8'] }), 403, 'an IPv6 client is not in an IPv4 range');
  });

  test('X-Forwarded-For from an untrusted peer is ignored: a client cannot pick its address', async () => {
    const { send } = await routeWith([{ 'ip-restriction': { allow: ['203.0.113.0/24'] } }]);
    const spoofed = await send('/', { headers: { 'x-forwarded-for': '203.0.113.5' } });
    assert.equal(spoofed.status, 403);
  });

  test('behind a trusted proxy the client address is the rightmost untrusted hop; IPv6 CIDRs apply to it', async () => {
    const { send } = await routeWith([{ 'ip-restriction': { allow: ['203.0.113.0/24', '2001:db8::/32'] } }], { server: { trustedProxies: ['127.0.0.1'] } });
    assert.equal((await send('/', { headers: { 'x-forwarded-for': '203.0.113.5' } })).status, 200);
    assert.equal((await send('/', { headers: { 'x-forwarded-for': '2001:db8::42' } })).status, 200);
    assert.equal((await send('/', { headers: { 'x-forwarded-for': '2001:db9::1' } })).status, 403);
    // A client that puts an allowed address in front of the one our proxy saw gains nothing.
    assert.equal((await send('/', { headers: { 'x-forwarded-for': '203.0.113.5, 198.51.100.7' } })).status, 403);
  });
});

describe('request-size-limit', () => {
  test('a declared body over the limit gets 413 at once; a streamed one as it crosses the limit', async () => {
    const { gw, send } = await routeWith([{ 'request-size-limit': { maxSize: '1KiB' } }]);
    const before = up.received.length;
    assert.equal((await send('/', { method: 'POST', body: 'x'.repeat(1024) })).status, 200);
    const declared = await send('/', { method: 'POST', body: 'x'.repeat(1025), fresh: true });
    assert.equal(declared.status, 413);
    assert.equal(declared.headers['x-sluice-error'], 'payload_too_large');
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write('y'.repeat(512));
      req.end();
    });
    assert.equal(streamed, 413);
    assert.equal(up.received.filter((r) => r.body.length > 1024).length, 0);
    assert.equal(up.received.length, before + 1);
  });
});

describe('headers, request-id, redirect, static-response', () => {
  test('headers: templates from the consumer, the request and the client; a missing value removes the field', async () => {
    const { send } = await routeWith([
      { 'key-auth': { optional: true } },
      {
        headers: {
          request: {
            rename: { 'x-old': 'x-new' },
            remove: ['x-drop'],
            set: { 'x-consumer': '${consumer.id}', 'x-who': '${consumer.id}@${client.ip} via ${route.name}', 'x-id': '${request.id}' },
            add: { 'x-plan': '${consumer.metadata.plan}', 'x-tag': 'a' },
          },
          response: { set: { 'x-served-for': '${consumer.id}' }, remove: ['vary'], rename: { 'content-type': 'x-original-type' } },
        },
      },
    ]);
    const before = up.received.length;
    const res = await send('/', { headers: { 'x-api-key': 'alice-key-0123456789', 'x-old': 'o', 'x-drop': 'd', 'x-request-id': 'rid-1', 'x-tag': 'client' } });
    const seen = up.received[before]!.headers;
    assert.equal(seen['x-new'], 'o');
    assert.equal(seen['x-old'], undefined);
    assert.equal(seen['x-drop'], undefined);
    assert.equal(seen['x-consumer'], 'alice');
    assert.equal(seen['x-who'], 'alice@127.0.0.1 via all');
    assert.equal(seen['x-id'], 'rid-1');
    assert.equal(seen['x-plan'], undefined, 'alice has no plan: nothing added');
    assert.equal(seen['x-tag'], 'client, a');
    assert.equal(res.headers['x-served-for'], 'alice');
    assert.equal(res.headers.vary, undefined);
    assert.equal(res.headers['x-original-type'], 'text/plain');
    await send('/', { headers: { 'x-consumer': 'admin' } });
    assert.equal(up.received[before + 1]!.headers['x-consumer'], undefined, 'an anonymous request cannot supply x-consumer');
  });

  test('request-id: a sane incoming id is kept, anything else becomes the request id; both directions', async () => {
    const { send } = await routeWith([{ 'request-id': {} }]);
    const before = up.received.length;
    const kept = await send('/', { headers: { 'x-correlation-id': 'corr-123' } });
    assert.equal(up.received[before]!.headers['x-correlation-id'], 'corr-123');
    assert.equal(kept.headers['x-correlation-id'], 'corr-123');
    const replaced = await send('/', { headers: { 'x-correlation-id': 'x'.repeat(300) } });
    assert.equal(replaced.headers['x-correlation-id'], replaced.headers['x-request-id']);
    assert.equal(up.received[before + 1]!.headers['x-correlation-id'], replaced.headers['x-request-id']);
  });

  test('redirect: plain HTTP goes to HTTPS (308), HTTPS behind a trusted proxy passes; templated targets', async () => {
    const { send } = await routeWith([{ redirect: { https: true, httpsPort: 8443 } }], { server: { trustedProxies: ['127.0.0.1'] } });
    const res = await send('/path?q=1', { headers: { host: 'shop.example.com:8080' } });
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, 'https://shop.example.com:8443/path?q=1');
    assert.equal((await send('/', { headers: { 'x-forwarded-proto': 'https' } })).status, 200);
    const moved = await routeWith([{ redirect: { to: 'https://new.example.com${request.url}', status: 301 } }]);
    const m = await moved.send('/old/page?x=2');
    assert.equal(m.status, 301);
    assert.equal(m.headers.location, 'https://new.example.com/old/page?x=2');
  });

  test('static-response answers by itself; the upstream is not called', async () => {
    const { send } = await routeWith([{ 'static-response': { status: 503, json: { maintenance: true }, headers: { 'retry-after': '120' } } }]);
    const before = up.received.length;
    const res = await send('/anything');
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body), { maintenance: true });
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['retry-after'], '120');
    assert.equal(up.received.length, before);
  });
});

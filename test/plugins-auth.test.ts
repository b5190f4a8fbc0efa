// Authentication from the outside, through a real gateway: JWT attacks (expired, not yet valid, wrong audience or
// issuer, tampered, alg none, HS256 signed with the RS public key, unknown kid with JWKS rotation and the refresh
// floor), HS/RS/ES/EdDSA tokens that pass, scopes and claims; API keys, basic auth and ACLs over consumers; and
// no key, token, password or secret ever reaching Sluice's log or the access log.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import type { ConfigInput } from '../src/config/schema.ts';
import { createObservability } from '../src/observability/index.ts';
import { startGateway, testConfig, type TestGateway } from './helpers/gateway.ts';
import { client, type Reply } from './helpers/misbehaving.ts';
import { captureLog } from './helpers/plugins.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const ISSUER = 'https://issuer.test';
const SECRET = 'hs256-shared-secret-that-is-long-enough-0123456789';
const ALICE_KEY = 'alice-api-key-5f4dcc3b5aa765d61d8327deb882cf99';
const BOB_PASSWORD = 'correct horse battery staple';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
// Two RSA keys for JWKS rotation: "a" is served first, then replaced by "b".
const jwkA = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwkB = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

let up: TestUpstream;
let gw: TestGateway;
let send: (path: string, headers?: Record<string, string>) => Promise<Reply>;
const gatewayLog = captureLog('debug');
let accessLog = '';
let observability: ReturnType<typeof createObservability>;

// The issuer's key set, served over HTTP; rotated by the tests.
let served = [jwk(jwkA.publicKey, 'a')];
let jwksFetches = 0;
const JWKS_COOLDOWN_MS = 1500;

async function token(claims: JWTPayload, key: KeyObject | Uint8Array, header: { alg: string; kid?: string }, options: { exp?: string | number; aud?: string; iss?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader(header)
    .setIssuedAt()
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? 'api')
    .setExpirationTime(options.exp ?? '5m')
    .sign(key);
}
const hs = (claims: JWTPayload = { sub: 'alice' }, options = {}) => token(claims, new TextEncoder().encode(SECRET), { alg: 'HS256' }, options);
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

before(async () => {
  up = await startUpstream('app');
  cleanup.push(() => up.close());
  const jwks = http.createServer((_req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => jwks.close(() => resolve())));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;

  const route = (name: string, plugins: unknown[]) => ({ name, match: { pathPrefix: `/${name}` }, upstream: 'app', plugins });
  const common = { issuer: ISSUER, audience: 'api' };
  const config = {
    observability: { accessLog: { sink: 'stdout', buffer: { flushInterval: '50ms' } } },
    upstreams: [{ name: 'app', targets: [{ url: up.url }] }],
    consumers: [
      { id: 'alice', groups: ['staff'], keys: [{ key: ALICE_KEY }] },
      { id: 'bob', groups: ['guests'], basicAuth: { username: 'bob', password: BOB_PASSWORD } },
      { id: 'carol', groups: ['staff', 'suspended'], keys: [{ key: 'carol-api-key-0123456789abcdef' }] },
    ],
    routes: [
      route('hs', [{ jwt: { secret: SECRET, ...common, forwardClaims: { sub: 'x-user-id', tenant: 'x-tenant' }, consumerClaim: 'sub' } }]),
      route('rs', [{ jwt: { publicKey: pem(rsa.publicKey), ...common } }]),
      route('es', [{ jwt: { publicKey: pem(ec.publicKey), ...common } }]),
      route('ed', [{ jwt: { publicKey: pem(ed.publicKey), ...common } }]),
      route('jwks', [{ jwt: { jwksUrl, ...common, jwks: { cooldown: `${JWKS_COOLDOWN_MS}ms` } } }]),
      route('scoped', [{ jwt: { secret: SECRET, ...common, scopes: ['read:users'], claims: { tenant: 'acme' }, requiredClaims: ['sub'] } }]),
      route('maybe', [{ jwt: { secret: SECRET, ...common, optional: true, from: { cookie: 'session' } } }]),
      route('keyed', [{ 'key-auth': { query: 'apikey', hideCredentials: true } }, { headers: { request: { set: { 'x-consumer': '${consumer.id}' } } } }]),
      route('staff', [{ 'key-auth': {} }, { acl: { allow: ['staff'], deny: ['suspended'] } }]),
      route('anyone', [{ 'key-auth': { optional: true } }, { acl: { allow: ['staff'] } }]),
      route('basic', [{ 'basic-auth': { realm: 'staff area' } }, { headers: { request: { set: { 'x-consumer': '${consumer.id}' } } } }]),
      route('limited', [{ 'key-auth': {} }, { 'rate-limit': { rate: '1/m', burst: 1, key: 'consumer' } }]),
    ],
  } as ConfigInput;
  let captured = '';
  observability = createObservability(testConfig(config).observability, {
    stdout: new Writable({
      write(chunk: Buffer, _enc, done) {
        captured += chunk.toString();
        accessLog = captured;
        done();
      },
    }),
  });
  gw = await startGateway(config, { log: gatewayLog.log, observability });
  cleanup.push(() => gw.close(), () => observability.close());
  const http2 = client(gw.url);
  cleanup.push(() => http2.close());
  send = (path, headers = {}) => http2.send(path, { headers });
});

function assertUnauthorized(res: Reply, challenge = 'Bearer realm="sluice", error="invalid_token"'): void {
  assert.equal(res.status, 401, res.body);
  assert.equal(res.headers['x-sluice-error'], 'unauthorized');
  assert.equal(res.headers['www-authenticate'], challenge);
  assert.match(res.body, /"code":"unauthorized"/);
}

describe('jwt', () => {
  test('a valid HS256 token passes; claims go upstream as headers, and a client cannot forge those headers', async () => {
    const before = up.received.length;
    const res = await send('/hs', { ...bearer(await hs({ sub: 'alice' })), 'x-user-id': 'mallory', 'x-tenant': 'evil' });
    assert.equal(res.status, 200);
    const seen = up.received[before]!.headers;
    assert.equal(seen['x-user-id'], 'alice');
    assert.equal(seen['x-tenant'], undefined, 'a claim the token lacks removes the forged header');
    assert.equal(seen.authorization?.startsWith('Bearer '), true, 'the token goes upstream unless hideCredentials');
  });

  test('no token: 401 with the Bearer challenge; the upstream never sees the request', async () => {
    const before = up.received.length;
    assertUnauthorized(await send('/hs'), 'Bearer realm="sluice"');
    assertUnauthorized(await send('/hs', { authorization: 'Basic YWxpY2U6eA==' }), 'Bearer realm="sluice"');
    assert.equal(up.received.length, before);
  });

  test('expired, not yet valid, wrong audience, wrong issuer: 401 invalid_token', async () => {
    const now = Math.floor(Date.now() / 1000);
    assertUnauthorized(await send('/hs', bearer(await hs({ sub: 'a' }, { exp: now - 120 }))));
    assertUnauthorized(await send('/hs', bearer(await hs({ sub: 'a', nbf: now + 3600 }))));
    assertUnauthorized(await send('/hs', bearer(await hs({ sub: 'a' }, { aud: 'another-api' }))));
    assertUnauthorized(await send('/hs', bearer(await hs({ sub: 'a' }, { iss: 'https://evil.test' }))));
    // Within the default 30 s clock skew, a token that just expired still passes.
    assert.equal((await send('/hs', bearer(await hs({ sub: 'a' }, { exp: now - 5 })))).status, 200);
  });

  test('a tampered token fails: a changed claim, or a changed signature', async () => {
    const [h, , s] = (await hs({ sub: 'alice', role: 'user' })).split('.');
    const forged = `${h}.${b64url({ sub: 'alice', role: 'admin', iss: ISSUER, aud: 'api', exp: Math.floor(Date.now() / 1000) + 300 })}.${s}`;
    assertUnauthorized(await send('/hs', bearer(forged)));
    const good = await hs();
    const flipped = good.slice(0, -2) + (good.endsWith('AA') ? 'BB' : 'AA');
    assertUnauthorized(await send('/hs', bearer(flipped)));
  });

  test('alg "none" is refused on every route, with or without a signature part', async () => {
    const claims = { sub: 'alice', iss: ISSUER, aud: 'api', exp: Math.floor(Date.now() / 1000) + 300 };
    for (const header of [{ alg: 'none', typ: 'JWT' }, { alg: 'None' }, { alg: 'NONE' }]) {
      const unsigned = `${b64url(header)}.${b64url(claims)}.`;
      for (const path of ['/hs', '/rs', '/jwks']) assertUnauthorized(await send(path, bearer(unsigned)));
    }
  });

  test('key confusion: HS256 signed with the RS public key as the HMAC secret is refused', async () => {
    const confused = await token({ sub: 'alice' }, new TextEncoder().encode(pem(rsa.publicKey)), { alg: 'HS256' });
    assertUnauthorized(await send('/rs', bearer(confused)));
    const rsToken = await token({ sub: 'alice' }, rsa.privateKey, { alg: 'RS256' });
    assertUnauthorized(await send('/hs', bearer(rsToken)), undefined);
  });

  test('RS256, ES256 and EdDSA tokens pass with their public keys, and only there', async () => {
    const rs = await token({ sub: 'a' }, rsa.privateKey, { alg: 'RS256' });
    const es = await token({ sub: 'a' }, ec.privateKey, { alg: 'ES256' });
    const eddsa = await token({ sub: 'a' }, ed.privateKey, { alg: 'EdDSA' });
    assert.equal((await send('/rs', bearer(rs))).status, 200);
    assert.equal((await send('/es', bearer(es))).status, 200);
    assert.equal((await send('/ed', bearer(eddsa))).status, 200);
    assertUnauthorized(await send('/es', bearer(rs)));
    assertUnauthorized(await send('/ed', bearer(es)));
  });

  test('JWKS: keys are cached; an unknown kid refetches the set, but never more often than the cooldown', async () => {
    // A fresh token each time (jti): a token already verified is remembered for a while (jwt.cache).
    const signA = () => token({ sub: 'a', jti: randomUUID() }, jwkA.privateKey, { alg: 'RS256', kid: 'a' });
    const signB = () => token({ sub: 'b', jti: randomUUID() }, jwkB.privateKey, { alg: 'RS256', kid: 'b' });
    assert.equal((await send('/jwks', bearer(await signA()))).status, 200);
    assert.equal((await send('/jwks', bearer(await signA()))).status, 200);
    const fetchesAfterWarmUp = jwksFetches;
    assert.equal(fetchesAfterWarmUp, 1, 'fetched once (at config load), then served from the cache');
    // The issuer rotates: "b" replaces "a". A token with the new kid right away finds the cache cooling down.
    served = [jwk(jwkB.publicKey, 'b')];
    const tooSoon = performance.now();
    const early = await send('/jwks', bearer(await signB()));
    if (performance.now() - tooSoon < JWKS_COOLDOWN_MS - 200) {
      assertUnauthorized(early);
      assert.equal(jwksFetches, fetchesAfterWarmUp, 'no refetch inside the cooldown');
    }
    await new Promise((resolve) => setTimeout(resolve, JWKS_COOLDOWN_MS + 100));
    assert.equal((await send('/jwks', bearer(await signB()))).status, 200, 'the unknown kid refetched the rotated set');
    assert.equal(jwksFetches, fetchesAfterWarmUp + 1);
    assertUnauthorized(await send('/jwks', bearer(await signA())), undefined);
    assert.equal(jwksFetches, fetchesAfterWarmUp + 1, 'the retired key does not trigger another fetch within the cooldown');
  });

  test('scopes (403 insufficient_scope), required claims and claim values', async () => {
    const res = await send('/scoped', bearer(await hs({ sub: 'a', tenant: 'acme', scope: 'read:orders' })));
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-sluice-error'], 'forbidden');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="sluice", error="insufficient_scope", scope="read:users"');
    assert.equal((await send('/scoped', bearer(await hs({ sub: 'a', tenant: 'acme', scope: 'read:orders read:users' })))).status, 200);
    assert.equal((await send('/scoped', bearer(await hs({ sub: 'a', tenant: 'acme', scp: ['read:users'] })))).status, 200);
    assertUnauthorized(await send('/scoped', bearer(await hs({ sub: 'a', tenant: 'other', scope: 'read:users' }))));
    assertUnauthorized(await send('/scoped', bearer(await hs({ tenant: 'acme', scope: 'read:users' }))));
  });

  test('a verified token is remembered until it expires: the same token passes without a new signature check', async () => {
    const now = Math.floor(Date.now() / 1000);
    const shortLived = await hs({ sub: 'alice', jti: randomUUID() }, { exp: now - 25 }); // inside the 30 s skew, for a few seconds
    assert.equal((await send('/hs', bearer(shortLived))).status, 200);
    assert.equal((await send('/hs', bearer(shortLived))).status, 200);
    const expired = await hs({ sub: 'alice', jti: randomUUID() }, { exp: now - 31 });
    assertUnauthorized(await send('/hs', bearer(expired)));
  });

  test('optional: no token passes anonymously, a bad one is still refused; the token can come from a cookie', async () => {
    assert.equal((await send('/maybe')).status, 200);
    assert.equal((await send('/maybe', { cookie: `theme=dark; session=${await hs()}` })).status, 200);
    assertUnauthorized(await send('/maybe', { cookie: 'session=not.a.token' }));
  });
});

describe('key-auth, basic-auth and acl over consumers', () => {
  test('an API key identifies its consumer; from the query too, removed before going upstream', async () => {
    const before = up.received.length;
    const res = await send('/keyed/x', { 'x-api-key': ALICE_KEY });
    assert.equal(res.status, 200);
    assert.equal(up.received[before]!.headers['x-consumer'], 'alice');
    assert.equal(up.received[before]!.headers['x-api-key'], undefined, 'hideCredentials');
    assert.equal((await send(`/keyed/x?apikey=${ALICE_KEY}&page=2`)).status, 200);
    assert.equal(up.received[before + 1]!.url, '/keyed/x?page=2');
    const challenge = 'ApiKey realm="sluice", header="x-api-key"';
    assertUnauthorized(await send('/keyed/x'), challenge);
    assertUnauthorized(await send('/keyed/x', { 'x-api-key': `${ALICE_KEY}x` }), challenge);
    assertUnauthorized(await send('/keyed/x', { 'x-api-key': ALICE_KEY.slice(0, -1) }), challenge);
  });

  test('basic auth: the right user and password pass; anything else gets the Basic challenge', async () => {
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    const before = up.received.length;
    assert.equal((await send('/basic', basic('bob', BOB_PASSWORD))).status, 200);
    assert.equal(up.received[before]!.headers['x-consumer'], 'bob');
    const challenge = 'Basic realm="staff area", charset="UTF-8"';
    assertUnauthorized(await send('/basic', basic('bob', 'wrong')), challenge);
    assertUnauthorized(await send('/basic', basic('mallory', BOB_PASSWORD)), challenge);
    assertUnauthorized(await send('/basic', { authorization: 'Basic !!!' }), challenge);
    assertUnauthorized(await send('/basic'), challenge);
  });

  test('acl: allowed group passes, a denied group wins over an allowed one, no consumer is forbidden', async () => {
    assert.equal((await send('/staff', { 'x-api-key': ALICE_KEY })).status, 200);
    const carol = await send('/staff', { 'x-api-key': 'carol-api-key-0123456789abcdef' });
    assert.equal(carol.status, 403);
    assert.equal(carol.headers['x-sluice-error'], 'forbidden');
    assert.equal((await send('/anyone', { 'x-api-key': ALICE_KEY })).status, 200);
    assert.equal((await send('/anyone')).status, 403, 'an anonymous request has no group');
  });

  test('rate limits keyed by consumer: each consumer has its own bucket', async () => {
    assert.equal((await send('/limited', { 'x-api-key': ALICE_KEY })).status, 200);
    assert.equal((await send('/limited', { 'x-api-key': ALICE_KEY })).status, 429);
    assert.equal((await send('/limited', { 'x-api-key': 'carol-api-key-0123456789abcdef' })).status, 200);
  });
});

describe('secrets stay out of logs', () => {
  test('no API key, password, token or secret appears in Sluice\'s log or the access log', async () => {
    const secretToken = await hs({ sub: 'alice' });
    await send('/hs', bearer(secretToken));
    await send('/hs', bearer(`${secretToken}x`));
    await send('/keyed', { 'x-api-key': ALICE_KEY });
    await send(`/keyed?apikey=${ALICE_KEY}`);
    await send('/keyed', { 'x-api-key': 'wrong-key-0123456789abcdef' });
    await send('/basic', { authorization: `Basic ${Buffer.from(`bob:${BOB_PASSWORD}`).toString('base64')}` });
    await observability.flush();
    const logs = gatewayLog.text() + accessLog;
    assert.ok(accessLog.includes('"/keyed"'), 'the access log did record the requests');
    assert.ok(gatewayLog.text().includes('token refused') && gatewayLog.text().includes('unknown API key'), 'refusals are logged (at debug), without the credential');
    const secrets = [SECRET, ALICE_KEY, 'wrong-key-0123456789abcdef', BOB_PASSWORD, Buffer.from(`bob:${BOB_PASSWORD}`).toString('base64'), secretToken, secretToken.split('.')[2]!];
    for (const secret of secrets) assert.ok(!logs.includes(secret), `a secret leaked into the logs: ${secret.slice(0, 8)}…`);
  });

  test('the validated config keeps only hashes of keys and passwords', () => {
    const text = JSON.stringify(gw.gateway.current.config);
    assert.ok(!text.includes(ALICE_KEY) && !text.includes(BOB_PASSWORD));
    assert.match(text, /"keyHash":"sha256:[0-9a-f]{64}"/);
  });
});

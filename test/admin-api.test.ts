// The admin API of a running `sluice start`: liveness, readiness with its detail, the running config (defaults
// filled in, credentials redacted), reload, and JSON errors for unknown paths (404) and wrong methods (405 with
// Allow). /readyz answering 503 before the workers are up is covered in cluster-workers.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { admin, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const SECRETS = ['Bearer s3cret-token', 'k3y-value', 'hunter2'];
const temp = tempDir();
let up: TestUpstream;
let s: RunningSluice;

before(async () => {
  up = await startUpstream('app');
  const path = join(temp.dir, 'sluice.yaml');
  writeAtomic(
    path,
    `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: app
    targets: [{ url: "http://svc:hunter2@127.0.0.1:${up.port}" }]
routes:
  - name: all
    match: { pathPrefix: / }
    upstream: app
    requestHeaders:
      set: { authorization: "${SECRETS[0]}", x-api-key: "${SECRETS[1]}", x-tenant: acme }
admin: { address: "127.0.0.1:0" }
`,
  );
  s = await startSluice(path);
});

after(async () => {
  await s?.proc.stop();
  await up?.close();
  temp.remove();
});

test('/healthz answers 200 (and HEAD without a body)', async () => {
  const reply = await admin(s.adminUrl, '/healthz');
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body, { status: 'ok' });
  assert.equal(reply.headers.get('content-type'), 'application/json');
  const head = await fetch(s.adminUrl + '/healthz', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('/readyz answers 200 with the config version and the bound listeners', async () => {
  const reply = await admin(s.adminUrl, '/readyz');
  assert.equal(reply.status, 200);
  assert.equal(reply.body.status, 'ready');
  assert.equal(reply.body.configVersion, 1);
  assert.deepEqual(reply.body.listeners, [{ name: 'public', host: '127.0.0.1', port: s.port() }]);
  assert.deepEqual(reply.body.reloads, { ok: 1, failed: 0 });
});

test('GET /api/v1/config returns the running config with defaults filled in and credentials redacted', async () => {
  const reply = await admin(s.adminUrl, '/api/v1/config');
  assert.equal(reply.status, 200);
  assert.equal(reply.body.version, 1);
  assert.ok(!Number.isNaN(Date.parse(reply.body.loadedAt as string)));
  const config = reply.body.config as {
    server: { drainTimeout: number };
    upstreams: { loadBalancer: string; targets: { url: string; weight: number }[] }[];
    routes: { requestHeaders: { set: Record<string, string> } }[];
    listeners: { limits: Record<string, unknown> }[];
  };
  // Defaults, normalised units.
  assert.equal(config.server.drainTimeout, 10_000);
  assert.equal(config.upstreams[0]!.loadBalancer, 'round-robin');
  assert.equal(config.upstreams[0]!.targets[0]!.weight, 1);
  assert.ok('keepAliveTimeout' in config.listeners[0]!.limits);
  // Redaction: header values that carry credentials, the password in a URL; the rest as written.
  assert.deepEqual(config.routes[0]!.requestHeaders.set, { authorization: '[redacted]', 'x-api-key': '[redacted]', 'x-tenant': 'acme' });
  assert.equal(config.upstreams[0]!.targets[0]!.url, `http://svc:[redacted]@127.0.0.1:${up.port}`);
  const text = JSON.stringify(reply.body);
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} leaked`);
});

test('POST /api/v1/reload with an unchanged file answers 200, changed: false', async () => {
  const reply = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body, { ok: true, version: 1, changed: false });
});

test('an unknown path is a JSON 404', async () => {
  const reply = await admin(s.adminUrl, '/api/v1/nothing?x=1');
  assert.equal(reply.status, 404);
  assert.equal((reply.body.error as { code: string }).code, 'not_found');
  assert.match((reply.body.error as { message: string }).message, /\/api\/v1\/nothing is not an admin endpoint/);
});

test('a wrong method is a JSON 405 that lists the allowed ones', async () => {
  const post = await admin(s.adminUrl, '/healthz', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal((post.body.error as { code: string }).code, 'method_not_allowed');
  assert.equal(post.headers.get('allow'), 'GET, HEAD');

  const get = await admin(s.adminUrl, '/api/v1/reload');
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
});

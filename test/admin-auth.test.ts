// Who may use the admin API: bearer tokens from SLUICE_ADMIN_TOKEN and admin.tokenFile (named, rotated without a
// restart), the probes left open, the token's name as the author of a write, refused attempts audited; without a
// token, loopback only — a non-loopback admin address is refused at start and a foreign Host header is refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { admin, eventually, runCli, SluiceProcess, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';

const ENV_TOKEN = 'env-token-0123456789abcdef';
const CI_TOKEN = 'ci-token-fedcba9876543210';
const temp = tempDir();

function config(extraAdmin = ''): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: app, targets: [{ url: "http://127.0.0.1:9" }] }]
routes: [{ name: all, match: { pathPrefix: / }, upstream: app }]
admin: { address: "127.0.0.1:0"${extraAdmin} }
`;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('with tokens from the environment and a token file', () => {
  let s: RunningSluice;
  const tokens = join(temp.dir, 'tokens');
  const path = join(temp.dir, 'auth.yaml');

  before(async () => {
    writeAtomic(tokens, `# admin API tokens\nci: ${CI_TOKEN}\n`);
    writeAtomic(path, config(', tokenFile: tokens'));
    s = await startSluice(path, { env: { SLUICE_ADMIN_TOKEN: ENV_TOKEN } });
  });
  after(() => s?.proc.stop());

  test('probes answer without a token', async () => {
    assert.equal((await admin(s.adminUrl, '/healthz')).status, 200);
    assert.equal((await admin(s.adminUrl, '/readyz')).status, 200);
  });

  test('every /api/v1 endpoint needs a valid bearer token: 401 with WWW-Authenticate otherwise', async () => {
    for (const headers of [{}, bearer('wrong-token-0123456789'), { authorization: `Basic ${ENV_TOKEN}` }]) {
      const r = await admin(s.adminUrl, '/api/v1/config', { headers });
      assert.equal(r.status, 401);
      assert.equal((r.body.error as { code: string }).code, 'unauthorized');
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="sluice-admin"');
    }
    assert.equal((await admin(s.adminUrl, '/api/v1/routes')).status, 401);
    assert.equal((await admin(s.adminUrl, '/api/v1/config', { headers: bearer(ENV_TOKEN) })).status, 200);
    assert.equal((await admin(s.adminUrl, '/api/v1/routes', { headers: bearer(CI_TOKEN) })).status, 200);
  });

  test('the token\'s name is the author; X-Sluice-Author is recorded beside it', async () => {
    const text = await (await fetch(s.adminUrl + '/api/v1/config?format=yaml', { headers: bearer(CI_TOKEN) })).text();
    const r = await admin(s.adminUrl, '/api/v1/config', {
      method: 'PUT',
      body: text.replace('routes: [{ name: all,', 'routes: [{ name: every,'),
      headers: { ...bearer(CI_TOKEN), 'if-match': '"1"', 'x-sluice-author': 'alice' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body.version as { author: string }).author, 'alice (token ci)');
    const r2 = await admin(s.adminUrl, '/api/v1/config/rollback', { method: 'POST', body: '{"version":1}', headers: { ...bearer(ENV_TOKEN), 'if-match': '"2"' } });
    assert.equal((r2.body.version as { author: string }).author, 'admin');
  });

  test('a refused write is audited as unauthorized', async () => {
    const r = await admin(s.adminUrl, '/api/v1/config/rollback', { method: 'POST', body: '{"version":1}', headers: { 'if-match': '*' } });
    assert.equal(r.status, 401);
    const audit = await admin(s.adminUrl, '/api/v1/audit', { headers: bearer(ENV_TOKEN) });
    const last = (audit.body.entries as Array<{ actor: string; action: string; result: string; status: number }>).at(-1)!;
    assert.deepEqual([last.actor, last.action, last.result, last.status], ['anonymous', 'POST /api/v1/config/rollback', 'unauthorized', 401]);
  });

  test('a rotated token file is picked up without a restart', async () => {
    const next = 'rotated-token-00112233445566';
    writeAtomic(tokens, `deploy: ${next}\n`);
    await eventually(async () => ((await admin(s.adminUrl, '/api/v1/routes', { headers: bearer(next) })).status === 200 ? true : undefined), 5000);
    assert.equal((await admin(s.adminUrl, '/api/v1/routes', { headers: bearer(CI_TOKEN) })).status, 401);
    assert.equal((await admin(s.adminUrl, '/api/v1/routes', { headers: bearer(ENV_TOKEN) })).status, 200);
  });
});

describe('without a token', () => {
  test('a request whose Host is not a loopback name is refused (DNS rebinding)', async () => {
    const path = join(temp.dir, 'open.yaml');
    writeAtomic(path, config());
    const s = await startSluice(path);
    try {
      // fetch() will not send a foreign Host header; node:http will.
      const http = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: s.adminPort, path: '/api/v1/config', headers: { host: 'evil.example:9901' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 403);
      assert.equal((await admin(s.adminUrl, '/api/v1/config')).status, 200);
      assert.equal((await admin(`http://localhost:${s.adminPort}`, '/api/v1/config')).status, 200);
    } finally {
      await s.proc.stop();
    }
  });

  test('an admin address off loopback is refused at start: exit 1 and what to do', async () => {
    const path = join(temp.dir, 'exposed.yaml');
    writeAtomic(path, config().replace('address: "127.0.0.1:0" }\n', 'address: "0.0.0.0:0" }\n'));
    const r = await runCli(['start', '-c', path, '--workers', '1']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /admin\.address 0\.0\.0\.0:0 is not a loopback address and no admin token is configured: set SLUICE_ADMIN_TOKEN or admin\.tokenFile/);
  });

  test('with a token it may listen off loopback', async () => {
    const path = join(temp.dir, 'exposed-ok.yaml');
    writeAtomic(path, config().replace('address: "127.0.0.1:0" }\n', 'address: "0.0.0.0:0" }\n'));
    const s = await startSluice(path, { env: { SLUICE_ADMIN_TOKEN: ENV_TOKEN } });
    await s.proc.stop();
  });

  test('a token too short to be safe is refused at start (exit 1)', async () => {
    const path = join(temp.dir, 'short.yaml');
    writeAtomic(path, config());
    const proc = new SluiceProcess(['start', '-c', path, '--workers', '1'], { env: { SLUICE_ADMIN_TOKEN: 'short' } });
    const exit = await proc.waitForExit();
    assert.equal(exit.code, 1);
    assert.match(proc.stderr, /SLUICE_ADMIN_TOKEN: an admin token needs at least 16 characters/);
  });
});

after(() => temp.remove());

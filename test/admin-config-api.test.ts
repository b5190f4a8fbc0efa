// The config through the admin API of a running `sluice start`: read (YAML, redacted), write (YAML or JSON,
// validated with line and column, If-Match, dry run), versions with author and message, diffs, rollback, the
// YAML file kept in step, hand edits becoming versions, the audit log, the route/upstream/plugin resources, and
// the history surviving a restart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { admin, eventually, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const temp = tempDir();
const path = join(temp.dir, 'sluice.yaml');
let blue: TestUpstream;
let green: TestUpstream;
let s: RunningSluice;

function config(upstream: 'blue' | 'green', extra = ''): string {
  return `# the demo gateway
listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: blue
    targets: [{ url: "http://127.0.0.1:${blue.port}" }]
  - name: green
    targets: [{ url: "http://127.0.0.1:${green.port}" }]
routes:
  - name: app
    match: { pathPrefix: / }
    upstream: ${upstream}
    requestHeaders:
      set: { authorization: "Bearer s3cret-value" }
    plugins:
      - rate-limit: { rate: 1000/s }
${extra}admin: { address: "127.0.0.1:0" }
`;
}

async function servedBy(): Promise<string> {
  const res = await fetch(s.url() + '/', { signal: AbortSignal.timeout(5000) });
  return res.text();
}

async function put(body: string, headers: Record<string, string>, query = ''): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  return admin(s.adminUrl, `/api/v1/config${query}`, { method: 'PUT', body, headers: { 'content-type': 'application/yaml', ...headers } });
}

async function yamlOf(pathAndQuery: string): Promise<{ status: number; etag: string | null; text: string }> {
  const res = await fetch(s.adminUrl + pathAndQuery, { headers: { accept: 'application/yaml' }, signal: AbortSignal.timeout(5000) });
  return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
}

before(async () => {
  blue = await startUpstream('blue');
  green = await startUpstream('green');
  writeAtomic(path, config('blue'));
  s = await startSluice(path);
});

after(async () => {
  await s?.proc.stop();
  await blue?.close();
  await green?.close();
  temp.remove();
});

test('GET /api/v1/config as YAML is the file as written, secrets redacted, with the version as ETag', async () => {
  const got = await yamlOf('/api/v1/config');
  assert.equal(got.status, 200);
  assert.equal(got.etag, '"1"');
  assert.equal(got.text, config('blue').replace('Bearer s3cret-value', '[redacted]'));
  const json = await admin(s.adminUrl, '/api/v1/config');
  assert.equal(json.headers.get('etag'), '"1"');
  assert.equal(json.body.author, 'file');
});

test('a write without If-Match is 428, with a stale version 409, and changes nothing', async () => {
  const none = await put(config('green'), {});
  assert.equal(none.status, 428);
  assert.equal((none.body.error as { code: string }).code, 'precondition_required');
  const stale = await put(config('green'), { 'if-match': '"99"' });
  assert.equal(stale.status, 409);
  assert.equal((stale.body.error as { code: string }).code, 'version_conflict');
  assert.equal(stale.body.currentVersion, 1);
  assert.equal(stale.headers.get('etag'), '"1"');
  assert.equal(await servedBy(), 'blue');
});

test('an invalid config is 422 with every error at its line and column in the body, and changes nothing', async () => {
  const bad = config('blue').replace('upstream: blue', 'upstream: bleu').replace('pathPrefix: /', 'patPrefix: /');
  const r = await put(bad, { 'if-match': '"1"' });
  assert.equal(r.status, 422);
  assert.equal((r.body.error as { code: string }).code, 'invalid_config');
  const errors = r.body.errors as Array<{ line: number; column: number; path: string; message: string }>;
  assert.deepEqual(errors.map((e) => [e.line, e.path]), [[10, 'routes[0].match'], [11, 'routes[0].upstream']]);
  assert.match(errors[1]!.message, /unknown upstream "bleu" \(did you mean "blue"\?\)/);
  assert.equal(errors[1]!.column, 15);
  assert.equal((await admin(s.adminUrl, '/api/v1/config')).body.version, 1);
});

test('?dryRun=true answers the diff (redacted) and applies nothing', async () => {
  const r = await put(config('green'), {}, '?dryRun=true');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.valid, true);
  assert.equal(r.body.changed, true);
  assert.equal(r.body.currentVersion, 1);
  const diff = r.body.diff as string;
  assert.match(diff, /^--- version 1\n\+\+\+ request\n@@ /);
  assert.match(diff, /^- {4}upstream: blue$/m);
  assert.match(diff, /^\+ {4}upstream: green$/m);
  assert.ok(!diff.includes('s3cret'));
  const invalid = await put('routes: [{ name: x }]\n', {}, '?dryRun=true');
  assert.equal(invalid.status, 422);
  assert.equal((invalid.body.errors as unknown[]).length > 0, true);
  assert.equal(await servedBy(), 'blue');
  assert.equal((await admin(s.adminUrl, '/api/v1/config')).body.version, 1);
});

test('a PUT of the redacted YAML, edited, applies as version 2, rewrites the file with the secret kept', async () => {
  const shown = (await yamlOf('/api/v1/config')).text;
  const edited = shown.replace('upstream: blue', 'upstream: green');
  const r = await put(edited, { 'if-match': '"1"', 'x-sluice-author': 'alice' }, '?message=' + encodeURIComponent('switch to green ✓'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.headers.get('etag'), '"2"');
  const v = r.body.version as { version: number; author: string; message: string; source: string };
  assert.deepEqual([v.version, v.author, v.message, v.source], [2, 'alice', 'switch to green ✓', 'api']);
  assert.equal(await servedBy(), 'green');
  // The file is the new config, comment and secret included.
  assert.equal(readFileSync(path, 'utf8'), config('green'));
});

test('the same config again changes nothing and makes no version', async () => {
  const r = await put(config('green'), { 'if-match': '*' });
  assert.equal(r.status, 200);
  assert.equal(r.body.changed, false);
  assert.equal((r.body.version as { version: number }).version, 2);
});

test('a JSON body is validated with positions in the JSON and stored as YAML', async () => {
  const bad = JSON.stringify({ routes: [{ name: 'app', match: { pathPrefix: '/' }, upstream: 'nope' }] }, null, 2);
  const r1 = await admin(s.adminUrl, '/api/v1/config', { method: 'PUT', body: bad, headers: { 'content-type': 'application/json', 'if-match': '"2"' } });
  assert.equal(r1.status, 422);
  const e = (r1.body.errors as Array<{ line: number; path: string }>)[0]!;
  assert.deepEqual([e.line, e.path], [8, 'routes[0].upstream']);

  const current = (await admin(s.adminUrl, '/api/v1/config')).body;
  assert.equal(current.version, 2);
  const doc = {
    listeners: [{ name: 'public', address: '127.0.0.1:0' }],
    upstreams: [{ name: 'blue', targets: [{ url: `http://127.0.0.1:${blue.port}` }] }, { name: 'green', targets: [{ url: `http://127.0.0.1:${green.port}` }] }],
    routes: [{ name: 'app', match: { pathPrefix: '/' }, upstream: 'blue' }, { name: 'extra', match: { path: '/extra' }, upstream: 'green' }],
    admin: { address: '127.0.0.1:0' },
  };
  const r2 = await admin(s.adminUrl, '/api/v1/config', { method: 'PUT', body: JSON.stringify(doc), headers: { 'content-type': 'application/json', 'if-match': '"2"' } });
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  assert.equal((r2.body.version as { version: number }).version, 3);
  assert.match(readFileSync(path, 'utf8'), /^listeners:\n {2}- name: public\n/);
  assert.equal(await servedBy(), 'blue');
});

test('versions list newest first; one version as YAML or JSON; diff between any two', async () => {
  const list = await admin(s.adminUrl, '/api/v1/config/versions');
  assert.equal(list.body.current, 3);
  const versions = list.body.versions as Array<{ version: number; author: string; source: string }>;
  assert.deepEqual(versions.map((v) => [v.version, v.author, v.source]), [[3, 'anonymous', 'api'], [2, 'alice', 'api'], [1, 'file', 'file']]);

  const v1 = await yamlOf('/api/v1/config/versions/1');
  assert.equal(v1.etag, '"1"');
  assert.equal(v1.text, config('blue').replace('Bearer s3cret-value', '[redacted]'));
  const v2 = await admin(s.adminUrl, '/api/v1/config/versions/2');
  assert.equal(v2.body.message, 'switch to green ✓');
  assert.equal(v2.body.current, false);
  assert.ok(!(v2.body.yaml as string).includes('s3cret'));
  assert.equal((await admin(s.adminUrl, '/api/v1/config/versions/42')).status, 404);
  assert.equal((await admin(s.adminUrl, '/api/v1/config/versions/x')).status, 400);

  const diff = await admin(s.adminUrl, '/api/v1/config/diff?from=1&to=2');
  assert.equal(diff.body.diff, [
    '--- version 1',
    '+++ version 2',
    '@@ -8,7 +8,7 @@',
    ' routes:',
    '   - name: app',
    '     match: { pathPrefix: / }',
    '-    upstream: blue',
    '+    upstream: green',
    '     requestHeaders:',
    '       set: { authorization: "[redacted]" }',
    '     plugins:',
    '',
  ].join('\n'));
  const raw = await fetch(s.adminUrl + '/api/v1/config/diff?from=2&to=2&format=text');
  assert.equal(raw.headers.get('content-type'), 'text/x-diff; charset=utf-8');
  assert.equal(await raw.text(), '');
  assert.equal((await admin(s.adminUrl, '/api/v1/config/diff?from=1&to=9')).status, 404);
});

test('rollback makes a new version with the old content, serves it and rewrites the file', async () => {
  const noMatch = await admin(s.adminUrl, '/api/v1/config/rollback', { method: 'POST', body: JSON.stringify({ version: 2 }) });
  assert.equal(noMatch.status, 428);
  const r = await admin(s.adminUrl, '/api/v1/config/rollback', {
    method: 'POST',
    body: JSON.stringify({ version: 2, message: 'back to green' }),
    headers: { 'content-type': 'application/json', 'if-match': '"3"', 'x-sluice-author': 'bob' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const v = r.body.version as { version: number; source: string; rollbackOf: number; author: string; message: string };
  assert.deepEqual([v.version, v.source, v.rollbackOf, v.author, v.message], [4, 'rollback', 2, 'bob', 'back to green']);
  assert.equal(await servedBy(), 'green');
  assert.equal(readFileSync(path, 'utf8'), config('green'));
  const missing = await admin(s.adminUrl, '/api/v1/config/rollback', { method: 'POST', body: '{"version": 77}', headers: { 'if-match': '*' } });
  assert.equal(missing.status, 404);
});

test('a hand edit of the file becomes a version by "file"', async () => {
  writeAtomic(path, config('blue'));
  const v = await eventually(async () => {
    const r = await admin(s.adminUrl, '/api/v1/config');
    return r.body.version === 5 ? r.body : undefined;
  }, 10_000);
  assert.equal(v.author, 'file');
  assert.equal(await servedBy(), 'blue');
});

test('routes, one route, plugins per route and upstreams are resources', async () => {
  const routes = await admin(s.adminUrl, '/api/v1/routes');
  assert.deepEqual((routes.body.routes as Array<{ name: string }>).map((r) => r.name), ['app']);
  const one = await admin(s.adminUrl, '/api/v1/routes/app');
  const route = one.body.route as { upstream: string; requestHeaders: { set: Record<string, string> } };
  assert.equal(route.upstream, 'blue');
  assert.equal(route.requestHeaders.set.authorization, '[redacted]');
  const missing = await admin(s.adminUrl, '/api/v1/routes/nope');
  assert.equal(missing.status, 404);
  const plugins = await admin(s.adminUrl, '/api/v1/plugins');
  assert.deepEqual((plugins.body.routes as Array<{ route: string; plugins: Array<{ name: string }> }>).map((r) => [r.route, r.plugins.map((p) => p.name)]), [['app', ['rate-limit']]]);
  const upstreams = await admin(s.adminUrl, '/api/v1/upstreams');
  assert.deepEqual((upstreams.body.upstreams as Array<{ name: string }>).map((u) => u.name).sort(), ['blue', 'green']);
});

test('every write is in the audit log: who, what, result, version', async () => {
  const r = await admin(s.adminUrl, '/api/v1/audit?limit=100');
  const entries = r.body.entries as Array<{ actor: string; action: string; result: string; status?: number; version?: number; time: string }>;
  const summary = entries.map((e) => [e.actor, e.action, e.result, e.status ?? null, e.version ?? null]);
  assert.deepEqual(summary, [
    ['anonymous', 'config.put', 'rejected', 428, null],
    ['anonymous', 'config.put', 'conflict', 409, 1],
    ['anonymous', 'config.put', 'rejected', 422, 1],
    ['alice', 'config.put', 'ok', 200, 2],
    ['anonymous', 'config.put', 'unchanged', 200, 2],
    ['anonymous', 'config.put', 'rejected', 422, 2],
    ['anonymous', 'config.put', 'ok', 200, 3],
    ['anonymous', 'config.rollback', 'rejected', 428, null],
    ['bob', 'config.rollback', 'ok', 200, 4],
    ['anonymous', 'config.rollback', 'failed', 404, 4],
    ['file', 'config.file', 'ok', null, 5],
  ]);
  for (const e of entries) assert.ok(!Number.isNaN(Date.parse(e.time)));
  assert.equal((await admin(s.adminUrl, '/api/v1/audit?limit=2')).body.entries instanceof Array, true);
  assert.equal(((await admin(s.adminUrl, '/api/v1/audit?limit=2')).body.entries as unknown[]).length, 2);
});

test('the history survives a restart, and the file that matches the newest version makes no new one', async () => {
  await s.proc.stop();
  s = await startSluice(path);
  const list = await admin(s.adminUrl, '/api/v1/config/versions');
  assert.equal(list.body.current, 5);
  assert.deepEqual((list.body.versions as Array<{ version: number }>).map((v) => v.version), [5, 4, 3, 2, 1]);
  assert.equal((await yamlOf('/api/v1/config/versions/2')).status, 200);
  assert.equal(await servedBy(), 'blue');
});

// The admin-API commands as users run them against a running Sluice: config get/apply/diff/history/rollback,
// routes list, upstreams list (with live health), status; tables by default, --output json|yaml; and DESIGN.md's
// exit codes — 0 ok, 1 what the user can fix (an invalid config, a conflict, a missing token), 2 a gateway that
// cannot be reached.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { BIN, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const temp = tempDir();
const path = join(temp.dir, 'sluice.yaml');
let up: TestUpstream;
let s: RunningSluice;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `sluice …` with raw stdout (tables and JSON as printed), bounded in time. */
function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SLUICE_ADMIN_TOKEN: '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 99) : 0, stdout, stderr });
    });
  });
}

const at = () => ['--admin', s.adminUrl];

function config(route: string): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: users
    targets: [{ url: "http://127.0.0.1:${up.port}" }, { url: "http://127.0.0.1:9" }]
    healthCheck: { path: /health, interval: 200ms, unhealthyThreshold: 1, healthyThreshold: 1 }
routes:
  - name: ${route}
    match: { pathPrefix: /api, methods: [GET] }
    upstream: users
    plugins:
      - rate-limit: { rate: 100/s }
admin: { address: "127.0.0.1:0" }
`;
}

before(async () => {
  up = await startUpstream('users');
  writeAtomic(path, config('users-api'));
  s = await startSluice(path);
});

after(async () => {
  await s?.proc.stop();
  await up?.close();
  temp.remove();
});

describe('sluice config', { concurrency: false }, () => {
  test('apply of an invalid file: exit 1, each error as FILE:line:col path: message, nothing changed', async () => {
    const bad = join(temp.dir, 'bad.yaml');
    writeAtomic(bad, config('users-api').replace('upstream: users', 'upstream: userz'));
    const r = await sluice(['config', 'apply', '-f', bad, ...at()]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:9:15 routes\\[0\\]\\.upstream: unknown upstream "userz" \\(did you mean "users"\\?\\)\n`));
    assert.match(r.stderr, /1 error; nothing was changed/);
    assert.equal((await sluice(['config', 'history', '-o', 'json', ...at()])).stdout.includes('"current": 1'), true);
  });

  test('apply --dry-run prints the diff and changes nothing; apply makes version 2 and writes the file', async () => {
    const next = join(temp.dir, 'next.yaml');
    writeAtomic(next, config('users-v2'));
    const dry = await sluice(['config', 'apply', '-f', next, '--dry-run', ...at()]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^--- version 1\n\+\+\+ request\n/);
    assert.match(dry.stdout, /^- {2}- name: users-api$/m);
    assert.match(dry.stdout, /^\+ {2}- name: users-v2$/m);

    const r = await sluice(['config', 'apply', '-f', next, '-m', 'rename the route', '--author', 'carol', ...at()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `applied ${next} as version 2\n`);
    assert.equal(readFileSync(path, 'utf8'), config('users-v2'));
    const again = await sluice(['config', 'apply', '-f', next, ...at()]);
    assert.equal(again.stdout, `unchanged: the running config (version 2) is already ${next}\n`);
  });

  test('apply based on a stale version is a conflict: exit 1 and what to do', async () => {
    const other = join(temp.dir, 'other.yaml');
    writeAtomic(other, config('users-v3'));
    const r = await sluice(['config', 'apply', '-f', other, '--if-match', '1', ...at()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the running config changed meanwhile \(now version 2\); review it with `sluice config diff -f .*other\.yaml` and apply again, or use --force/);
  });

  test('history is a table, newest first, the running version starred', async () => {
    const r = await sluice(['config', 'history', ...at()]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^VERSION\s+CREATED\s+AUTHOR\s+SOURCE\s+MESSAGE$/);
    assert.match(lines[1]!, /^2\*\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+carol\s+api\s+rename the route$/);
    assert.match(lines[2]!, /^1\s+.*\s+file\s+file\s+config file read at start$/);
  });

  test('diff between versions, get of a version, rollback', async () => {
    const diff = await sluice(['config', 'diff', '1', '2', ...at()]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^--- version 1\n\+\+\+ version 2\n@@ /);
    const v1 = await sluice(['config', 'get', '1', ...at()]);
    assert.equal(v1.stdout, config('users-api'));
    const rb = await sluice(['config', 'rollback', '1', '-m', 'undo', ...at()]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(rb.stdout, 'rolled back: version 3 has the content of version 1\n');
    const current = await sluice(['config', 'get', ...at()]);
    assert.equal(current.stdout, config('users-api'));
    const json = JSON.parse((await sluice(['config', 'get', '-o', 'json', ...at()])).stdout) as { version: number; author: string };
    assert.equal(json.version, 3);
    const missing = await sluice(['config', 'rollback', '42', ...at()]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /version 42 is not in the store/);
  });
});

test('routes list: a table, or JSON/YAML; an unknown name is exit 1', async () => {
  const r = await sluice(['routes', 'list', ...at()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'NAME       MATCH      UPSTREAM  PLUGINS\nusers-api  /api* GET  users     rate-limit\n');
  const yaml = parse((await sluice(['routes', 'list', 'users-api', '-o', 'yaml', ...at()])).stdout) as Array<{ name: string; upstream: string }>;
  assert.deepEqual(yaml.map((x) => [x.name, x.upstream]), [['users-api', 'users']]);
  const unknown = await sluice(['routes', 'list', 'nope', ...at()]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no route named "nope"; known: users-api/);
});

test('upstreams list shows each target\'s live health', async () => {
  let r: Run | undefined;
  for (let i = 0; i < 100; i++) {
    r = await sluice(['upstreams', 'list', ...at()]);
    if (/unhealthy/.test(r.stdout)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(r!.code, 0, r!.stderr);
  const lines = r!.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^UPSTREAM\s+HEALTHY\s+TARGET\s+STATE\s+IN-FLIGHT\s+REASON$/);
  assert.match(lines[1]!, new RegExp(`^users\\s+1/2\\s+http://127\\.0\\.0\\.1:${up.port}\\s+healthy\\s+0`));
  assert.match(lines[2]!, /^users\s+1\/2\s+http:\/\/127\.0\.0\.1:9\s+unhealthy\s+0\s+active health check: /);
});

test('status: ready, the version and the listeners; exit 0', async () => {
  const r = await sluice(['status', ...at()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^status\s+ready$/m);
  assert.match(r.stdout, /^config\s+version 3 by .* undo$/m);
  assert.match(r.stdout, new RegExp(`^listeners\\s+public 127\\.0\\.0\\.1:${s.port()}$`, 'm'));
  const json = JSON.parse((await sluice(['status', '-o', 'json', ...at()])).stdout) as { status: string; configVersion: number };
  assert.deepEqual([json.status, json.configVersion], ['ready', 3]);
});

test('an admin API that cannot be reached is exit 2 with a message saying so', async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  for (const args of [['status'], ['config', 'history'], ['routes', 'list']]) {
    const r = await sluice([...args, '--admin', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`cannot reach the Sluice admin API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); is Sluice running\\?`));
  }
});

test('a gateway with a token: without SLUICE_ADMIN_TOKEN exit 1 and the hint; with it, ok', async () => {
  const token = 'cli-test-token-0123456789';
  const p = join(temp.dir, 'token.yaml');
  writeAtomic(p, config('users-api'));
  const secured = await startSluice(p, { env: { SLUICE_ADMIN_TOKEN: token } });
  try {
    const denied = await sluice(['routes', 'list', '--admin', secured.adminUrl]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /this admin API needs "Authorization: Bearer <token>" \(unauthorized\); set SLUICE_ADMIN_TOKEN/);
    const ok = await sluice(['routes', 'list', '--admin', secured.adminUrl], { SLUICE_ADMIN_TOKEN: token });
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await secured.proc.stop();
  }
});

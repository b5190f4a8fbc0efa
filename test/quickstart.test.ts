// `npm start` as a newcomer meets it — examples/quickstart.ts, run on free ports through its environment
// overrides: /api/users alternates between the two demo instances with the /api prefix stripped and the
// x-served-by header set, and any other path echoes what the upstream received.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, runningFrom, SluiceProcess, type RunningSluice } from './helpers/process.ts';

let s: RunningSluice;

before(async () => {
  const proc = new SluiceProcess([], {
    script: join(REPO, 'examples', 'quickstart.ts'),
    env: { SLUICE_QUICKSTART_PORT: '0', SLUICE_QUICKSTART_ADMIN_PORT: '0', SLUICE_QUICKSTART_DEMO_PORTS: '0,0' },
  });
  try {
    s = runningFrom(proc, (await proc.waitForLog((l) => l.msg === 'sluice started', 20_000)) as never);
  } catch (err) {
    await proc.stop();
    throw err;
  }
});

after(async () => {
  await s?.proc.stop();
});

test('the environment chose the ports (the shipped 8080 and 9901 stay free for a developer\'s own npm start)', () => {
  assert.notEqual(s.port(), 8080);
  assert.notEqual(s.adminPort, 9901);
});

test('GET /api/users twice: demo-1 then demo-2, prefix stripped, x-served-by set', async () => {
  const instances: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${s.url()}/api/users`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-served-by'), 'sluice');
    const body = (await res.json()) as { instance: string; users: { name: string }[] };
    assert.equal(body.users[0]!.name, 'Ada Lovelace', 'the demo served /users');
    instances.push(body.instance);
  }
  assert.deepEqual(instances, ['demo-1', 'demo-2']);
});

test('any other path echoes what the upstream received', async () => {
  const res = await fetch(`${s.url()}/anything?x=1`, { headers: { 'x-request-id': 'quickstart-test' }, signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { instance: string; received: { method: string; url: string; headers: Record<string, string> } };
  assert.match(body.instance, /^demo-[12]$/);
  assert.equal(body.received.method, 'GET');
  assert.equal(body.received.url, '/anything?x=1');
  assert.equal(body.received.headers['x-request-id'], 'quickstart-test');
  assert.equal(body.received.headers['x-forwarded-for'], '127.0.0.1');
});

test('the shipped config keeps the documented ports: 8080, 9901, 3001 and 3002', async () => {
  const yaml = readFileSync(join(REPO, 'examples', 'quickstart.yaml'), 'utf8');
  for (const expected of ['address: ":8080"', 'address: 127.0.0.1:9901', 'http://127.0.0.1:3001', 'http://127.0.0.1:3002']) {
    assert.ok(yaml.includes(expected), expected);
  }
});

test('SIGTERM ends it with exit 0 and removes the config copy it wrote', async () => {
  const copy = s.proc.logs.find((l) => l.msg === 'config loaded')!.file as string;
  assert.ok(existsSync(copy), copy);
  s.proc.kill('SIGTERM');
  assert.deepEqual(await s.proc.waitForExit(10_000), { code: 0, signal: null });
  assert.equal(existsSync(copy), false);
});

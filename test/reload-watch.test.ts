// How file edits become reloads: one reload per save whatever the editor does (temp + rename, vim's
// rename-aside, a Kubernetes ConfigMap's symlink swap), none for a save that changes nothing, none for a file
// caught empty; a listener whose address changes is rebound; a config that cannot be applied (its new listener's
// port is taken) is rejected with the address named, and the old config keeps serving.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, renameSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from './helpers/free-port.ts';
import { admin, eventually, startSluice, tempDir, writeAtomic, writeInPlace, type RunningSluice } from './helpers/process.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

let up: TestUpstream;
const temp = tempDir();
const started: RunningSluice[] = [];

function config(options: { tag: string; listeners?: string[] }): string {
  const listeners = options.listeners ?? ['public 127.0.0.1:0'];
  return `# ${options.tag}
listeners:
${listeners.map((l) => `  - name: ${l.split(' ')[0]}\n    address: ${l.split(' ')[1]}`).join('\n')}
upstreams:
  - name: app
    targets: [{ url: ${up.url} }]
routes:
  - name: tagged
    match: { pathPrefix: /${options.tag} }
    upstream: app
admin:
  address: 127.0.0.1:0
`;
}

/** GET over a new connection (a kept-alive one could outlive the listening socket it came from). */
function status(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function version(s: RunningSluice): Promise<number> {
  return (await admin(s.adminUrl, '/readyz')).body.configVersion as number;
}

const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function count(s: RunningSluice, from: number, prefix: string): number {
  return s.proc.logs.slice(from).filter((l) => l.msg.startsWith(prefix)).length;
}


before(async () => {
  up = await startUpstream('app');
});

after(async () => {
  for (const s of started) await s.proc.stop();
  await up?.close();
  temp.remove();
});

describe('a plain config file', () => {
  const path = join(temp.dir, 'plain.yaml');
  let s: RunningSluice;

  before(async () => {
    writeAtomic(path, config({ tag: 'one' }));
    s = await startSluice(path);
    started.push(s);
  });

  test('a vim-style save (old file renamed aside, new one written, backup removed) is one reload', async () => {
    const from = s.proc.logs.length;
    const v = await version(s);
    renameSync(path, `${path}~`);
    writeFileSync(path, config({ tag: 'two' }));
    unlinkSync(`${path}~`);
    await eventually(async () => ((await status(s.port(), '/two')) === 200 ? true : undefined), 3000);
    await quiet(400);
    assert.equal(await version(s), v + 1);
    assert.equal(count(s, from, 'config reloaded'), 1);
    assert.equal(count(s, from, 'config rejected'), 0, 'the moment without a file was never read');
  });

  test('saves that change nothing (same text, atomic or in place, SIGHUP, API) reload nothing', async () => {
    const from = s.proc.logs.length;
    const v = await version(s);
    const text = config({ tag: 'two' });
    writeAtomic(path, text);
    await quiet(300);
    writeInPlace(path, text);
    s.proc.kill('SIGHUP');
    const reply = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
    assert.deepEqual(reply.body, { ok: true, version: v, changed: false });
    await quiet(400);
    assert.equal(await version(s), v);
    assert.equal(count(s, from, 'config reloaded'), 0);
  });

  test('a file caught empty (truncated, not yet written) is rejected and the running config stays', async () => {
    const from = s.proc.logs.length;
    const v = await version(s);
    writeInPlace(path, '');
    const reply = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
    assert.equal(reply.status, 422);
    assert.match(String((reply.body.errors as string[])[0]), /empty/);
    assert.equal(await status(s.port(), '/two'), 200);
    writeInPlace(path, config({ tag: 'two' }));
    await s.proc.waitForLog((l) => l.msg === 'config file is valid again and matches the running config', 3000, from);
    assert.equal(await version(s), v);
  });

  test('a slow in-place save (truncated, then written 300 ms later) never applies the empty file and logs no error', async () => {
    const from = s.proc.logs.length;
    const v = await version(s);
    const fd = openSync(path, 'w'); // truncates: the watch sees an empty file for a while
    await quiet(300);
    writeSync(fd, config({ tag: 'slow' }));
    closeSync(fd);
    await eventually(async () => ((await status(s.port(), '/slow')) === 200 ? true : undefined), 3000);
    await quiet(300);
    assert.equal(await version(s), v + 1, 'one reload: the empty moment was skipped');
    assert.equal(count(s, from, 'config rejected'), 0);
  });

  test('a listener whose address changes is rebound: the new port serves, the old one refuses', async () => {
    const oldPort = s.port();
    const newPort = await freePort();
    writeAtomic(path, config({ tag: 'three', listeners: [`public 127.0.0.1:${newPort}`] }));
    await eventually(async () => ((await status(newPort, '/three')) === 200 ? true : undefined), 3000);
    await assert.rejects(status(oldPort, '/three'), 'the old port no longer accepts');
    const ready = await admin(s.adminUrl, '/readyz');
    assert.deepEqual(
      (ready.body.listeners as { name: string; port: number }[]).map((l) => [l.name, l.port]),
      [['public', newPort]],
    );
    s = { ...s, port: () => newPort };
  });

  test('a config whose new listener cannot bind is rejected with the address named; the old one keeps serving', async () => {
    // A plain server without SO_REUSEPORT: nobody can share its port.
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
    const busy = (blocker.address() as net.AddressInfo).port;
    try {
      const from = s.proc.logs.length;
      const v = await version(s);
      writeAtomic(path, config({ tag: 'four', listeners: [`public 127.0.0.1:${s.port()}`, `extra 127.0.0.1:${busy}`] }));
      const reply = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
      assert.equal(reply.status, 422);
      const errors = reply.body.errors as string[];
      assert.match(errors[0]!, new RegExp(`cannot bind listener "extra" to 127\\.0\\.0\\.1:${busy}: address already in use`));
      await quiet(400);
      assert.equal(count(s, from, 'config could not be applied'), 1, 'logged once');
      assert.equal(await version(s), v);
      assert.equal(await status(s.port(), '/three'), 200, 'the previous config serves');
      assert.equal(await status(s.port(), '/four'), 404);

      // Free the port and reload: now it applies.
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      const retry = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      assert.equal(await status(busy, '/four'), 200);
      assert.equal(await status(s.port(), '/four'), 200);
    } finally {
      blocker.close();
    }
  });
});

test('a symlinked config (Kubernetes ConfigMap: the ..data link is swapped) is reloaded', async () => {
  // The layout kubelet writes: sluice.yaml -> ..data/sluice.yaml, ..data -> ..v1; an update writes ..v2 and
  // renames a new ..data_tmp link over ..data. No event names sluice.yaml.
  const dir = join(temp.dir, 'configmap');
  mkdirSync(join(dir, '..v1'), { recursive: true });
  mkdirSync(join(dir, '..v2'));
  writeFileSync(join(dir, '..v1', 'sluice.yaml'), config({ tag: 'cm-one' }));
  writeFileSync(join(dir, '..v2', 'sluice.yaml'), config({ tag: 'cm-two' }));
  symlinkSync('..v1', join(dir, '..data'));
  symlinkSync('..data/sluice.yaml', join(dir, 'sluice.yaml'));
  const s = await startSluice(join(dir, 'sluice.yaml'));
  started.push(s);
  assert.equal(await status(s.port(), '/cm-one'), 200);
  symlinkSync('..v2', join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  await eventually(async () => ((await status(s.port(), '/cm-two')) === 200 ? true : undefined), 3000);
  assert.equal(await version(s), 2);
});

// Crash safety of the embedded store: processes are killed with SIGKILL in the middle of writing versions, then
// restarted. Every version a client was told about is intact, the history is readable end to end, no half-written
// file is served (version files, the YAML file), and the gateway serves the newest committed config.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../src/config/load.ts';
import { FileVersionStore } from '../src/store/file-version-store.ts';
import { sha256 } from '../src/store/version-store.ts';
import { admin, eventually, REPO, startSluice, tempDir, writeAtomic } from './helpers/process.ts';

const temp = tempDir();
after(() => temp.remove());

/** A config big enough (~64 KiB) that writing and fsyncing it takes a while: a kill lands mid-write more often. */
function config(n: number): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: app, targets: [{ url: "http://127.0.0.1:9" }] }]
routes:
  - name: r-${n}
    match: { pathPrefix: / }
    upstream: app
    requestHeaders:
      set: { x-pad: "${'x'.repeat(64 * 1024)}" }
admin: { address: "127.0.0.1:0" }
`;
}

const routeOf = (text: string) => /name: (r-\d+)/.exec(text)?.[1];

test('SIGKILL during API writes: after a restart every acknowledged version is intact and the newest is served', { timeout: 180_000 }, async () => {
  const path = join(temp.dir, 'sluice.yaml');
  writeAtomic(path, config(0));
  const acked = new Map<number, string>();
  let n = 1;
  for (let round = 0; round < 3; round++) {
    const s = await startSluice(path, { timeoutMs: 30_000 });
    // Two writers at once keep the control plane's write queue busy, so the kill finds a write in progress.
    let stop = false;
    const writer = async () => {
      while (!stop) {
        const i = n++;
        const r = await admin(s.adminUrl, '/api/v1/config', { method: 'PUT', body: config(i), headers: { 'content-type': 'application/yaml', 'if-match': '*' } }).catch(() => undefined);
        if (r?.status === 200) acked.set((r.body.version as { version: number }).version, `r-${i}`);
      }
    };
    const writers = [writer(), writer()];
    const before = acked.size;
    // Kill after a few more acknowledged writes, at a moment that varies from round to round.
    await eventually(() => (acked.size >= before + 4 + round * 3 ? true : undefined), 60_000, 5);
    s.proc.kill('SIGKILL');
    await s.proc.waitForExit();
    stop = true;
    await Promise.all(writers);
  }

  // No half-written config file: it parses and validates.
  const fileText = readFileSync(path, 'utf8');
  assert.equal(parseConfig(fileText, path).ok, true);
  const s = await startSluice(path, { timeoutMs: 30_000 });
  try {
    const { body } = await admin(s.adminUrl, '/api/v1/config/versions');
    const versions = (body.versions as Array<{ version: number; sha256: string }>).map((v) => v.version);
    const newestAcked = Math.max(...acked.keys());
    assert.ok(versions[0]! >= newestAcked, `newest version ${versions[0]} is older than the newest acknowledged ${newestAcked}`);
    // Every acknowledged version is there with the content that was sent.
    for (const [version, route] of acked) {
      const v = await admin(s.adminUrl, `/api/v1/config/versions/${version}`);
      assert.equal(v.status, 200, `version ${version} is missing`);
      assert.equal(routeOf(v.body.yaml as string), route, `version ${version} has other content`);
    }
    // The whole history is readable, and what runs is the newest version.
    for (const version of versions) assert.equal((await admin(s.adminUrl, `/api/v1/config/versions/${version}`)).status, 200);
    const current = await admin(s.adminUrl, '/api/v1/config');
    assert.equal(current.body.version, versions[0]);
    assert.equal((current.body.config as { routes: Array<{ name: string }> }).routes[0]!.name, routeOf(fileText));
    // Nothing half-written is left beside the versions or the config file.
    const store = join(temp.dir, '.sluice', 'sluice.yaml', 'versions');
    assert.deepEqual(readdirSync(store).filter((f) => !/^\d{10}\.json$/.test(f)), []);
    assert.deepEqual(readdirSync(temp.dir).filter((f) => f.startsWith('.tmp-')), []);
  } finally {
    await s.proc.stop();
  }
});

test('SIGKILL of a process committing versions as fast as it can: every committed version is whole', { timeout: 120_000 }, async () => {
  const dir = join(temp.dir, 'raw-store');
  const storeModule = join(REPO, 'src', 'store', 'file-version-store.ts');
  // The child prints each version number once its commit has resolved (durable), then goes on.
  const script = `
    import { FileVersionStore } from ${JSON.stringify(storeModule)};
    const store = await FileVersionStore.open(${JSON.stringify(dir)}, { maxVersions: 100000 });
    for (let i = 0; ; i++) {
      const v = await store.commit({ text: 'n: ' + i + '\\n' + 'x'.repeat(32768) + '\\n', author: 'loop', message: String(i), source: 'api' });
      process.stdout.write(v.version + '\\n');
    }`;
  let lastReported = 0;
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) if (line !== '') lastReported = Math.max(lastReported, Number(line));
    });
    const start = lastReported;
    await eventually(() => (lastReported >= start + 10 + round * 7 ? true : undefined), 60_000, 2);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  const store = await FileVersionStore.open(dir, { maxVersions: 100000 });
  try {
    const list = await store.list();
    assert.ok(list.length >= lastReported, `${list.length} versions, ${lastReported} reported committed`);
    // Numbered without gaps, each one whole (its checksum matches its text).
    assert.deepEqual(list.map((v) => v.version), list.map((_v, i) => i + 1));
    for (const meta of list) {
      const v = await store.get(meta.version);
      assert.ok(v, `version ${meta.version} unreadable`);
      assert.equal(sha256(v.text), v.sha256);
      assert.equal(v.text.startsWith(`n: ${Number(v.message)}\n`), true);
    }
  } finally {
    await store.close();
  }
});

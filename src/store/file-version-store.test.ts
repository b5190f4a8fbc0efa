// The embedded store: the shared ConfigStore cases, then what is particular to files — interrupted writes,
// damaged files, pruning, the lock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FileVersionStore, StoreLockedError } from './file-version-store.ts';
import { configStoreCases } from './store-cases.ts';
import type { ConfigStore } from './version-store.ts';

const root = mkdtempSync(join(tmpdir(), 'sluice-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);

configStoreCases('file store', {
  open: () => FileVersionStore.open(fresh()),
  reopen: async (store: ConfigStore) => {
    await store.close();
    return FileVersionStore.open(store.location);
  },
});

const entry = (text: string) => ({ text, author: 'a', message: 'm', source: 'api' as const });

test('file store: leftovers of an interrupted write are removed and never become a version', async () => {
  const dir = fresh();
  const store = await FileVersionStore.open(dir);
  await store.commit(entry('a: 1\n'));
  await store.close();
  writeFileSync(join(dir, 'versions', '.tmp-0000000002.json-abc123'), '{"version":2,"te');
  const warnings: string[] = [];
  const again = await FileVersionStore.open(dir, { onWarning: (m) => warnings.push(m) });
  assert.equal((await again.latest())?.version, 1);
  assert.deepEqual(readdirSync(join(dir, 'versions')), ['0000000001.json']);
  assert.equal(warnings.length, 1);
  await again.close();
});

test('file store: a damaged version file is set aside, not served', async () => {
  const dir = fresh();
  const store = await FileVersionStore.open(dir);
  await store.commit(entry('a: 1\n'));
  await store.commit(entry('a: 2\n'));
  await store.close();
  // Same length, one byte changed: only the checksum can tell.
  writeFileSync(join(dir, 'versions', '0000000002.json'), JSON.stringify({ version: 2, text: 'a: 3\n', sha256: 'x'.repeat(64) }));
  const again = await FileVersionStore.open(dir, { onWarning: () => {} });
  assert.equal((await again.latest())?.text, 'a: 1\n');
  assert.equal(await again.get(2), undefined);
  assert.ok(readdirSync(join(dir, 'versions')).includes('0000000002.json.damaged'));
  // A number is never given twice, even one whose file was damaged.
  assert.equal((await again.commit(entry('a: 4\n'))).version, 3);
  await again.close();
});

test('file store: past maxVersions the oldest versions are removed, numbering goes on', async () => {
  const dir = fresh();
  const store = await FileVersionStore.open(dir, { maxVersions: 3 });
  for (let i = 1; i <= 5; i++) await store.commit(entry(`a: ${i}\n`));
  assert.deepEqual((await store.list()).map((v) => v.version), [3, 4, 5]);
  assert.equal(await store.get(1), undefined);
  assert.equal(readdirSync(join(dir, 'versions')).length, 3);
  await store.close();
});

test('file store: a store held by another live process is refused; a dead holder\'s lock is taken over', async () => {
  const dir = fresh();
  (await FileVersionStore.open(dir)).close();
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(dir, 'lock'), `${holder.pid}\n`);
    await assert.rejects(FileVersionStore.open(dir), (err: unknown) => err instanceof StoreLockedError && err.message.includes(String(holder.pid)));
  } finally {
    holder.kill('SIGKILL');
  }
  await new Promise((resolve) => holder.once('exit', resolve));
  const store = await FileVersionStore.open(dir);
  assert.equal(await store.latest(), undefined);
  await store.close();
});

// The behaviour every ConfigStore must have, run against each implementation (file-version-store.test.ts; an
// etcd store runs the same cases), as Hono runs every router against one set of cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256, VersionConflictError, type ConfigStore } from './version-store.ts';

export interface StoreHarness {
  /** A fresh, empty store. */
  open(): Promise<ConfigStore>;
  /** The same store opened again (a restart). */
  reopen(store: ConfigStore): Promise<ConfigStore>;
}

const entry = (text: string, author = 'alice') => ({ text, author, message: `set ${text.trim()}`, source: 'api' as const });

export function configStoreCases(name: string, harness: StoreHarness): void {
  test(`${name}: an empty store has no latest version and an empty history`, async () => {
    const store = await harness.open();
    assert.equal(await store.latest(), undefined);
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.get(1), undefined);
    await store.close();
  });

  test(`${name}: commits are numbered 1, 2, 3 with author, message, time and checksum`, async () => {
    const store = await harness.open();
    const before = Date.now();
    for (const text of ['a: 1\n', 'a: 2\n', 'a: 3\n']) await store.commit(entry(text));
    const list = await store.list();
    assert.deepEqual(list.map((v) => v.version), [1, 2, 3]);
    const v2 = await store.get(2);
    assert.equal(v2?.text, 'a: 2\n');
    assert.equal(v2?.author, 'alice');
    assert.equal(v2?.message, 'set a: 2');
    assert.equal(v2?.sha256, sha256('a: 2\n'));
    assert.ok(Date.parse(v2!.createdAt) >= before - 1000);
    assert.equal((await store.latest())?.version, 3);
    await store.close();
  });

  test(`${name}: a compare-and-swap commit fails when the newest version is not the expected one`, async () => {
    const store = await harness.open();
    await store.commit(entry('a: 1\n'), 0);
    await store.commit(entry('a: 2\n'), 1);
    await assert.rejects(store.commit(entry('a: 3\n'), 1), (err: unknown) => err instanceof VersionConflictError && err.current === 2);
    assert.equal((await store.latest())?.version, 2);
    await store.close();
  });

  test(`${name}: a rollback records the version it restores`, async () => {
    const store = await harness.open();
    await store.commit(entry('a: 1\n'));
    await store.commit(entry('a: 2\n'));
    const v3 = await store.commit({ text: 'a: 1\n', author: 'bob', message: 'undo', source: 'rollback', rollbackOf: 1 });
    assert.equal(v3.version, 3);
    assert.equal((await store.get(3))?.rollbackOf, 1);
    assert.equal((await store.get(3))?.source, 'rollback');
    await store.close();
  });

  test(`${name}: history and content survive a restart`, async () => {
    const store = await harness.open();
    await store.commit(entry('a: 1\n'));
    await store.commit(entry('a: 2\n'));
    const again = await harness.reopen(store);
    assert.deepEqual((await again.list()).map((v) => [v.version, v.author]), [[1, 'alice'], [2, 'alice']]);
    assert.equal((await again.latest())?.text, 'a: 2\n');
    assert.equal((await again.commit(entry('a: 3\n'))).version, 3);
    await again.close();
  });
}

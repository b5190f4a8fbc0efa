// The etcd config store against a real etcd: the shared ConfigStore cases (the file store runs the same ones),
// then what is particular to a store that several instances share — compare-and-swap between two clients,
// following another instance's commits, and the health a follower sees when etcd goes away and comes back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdVersionStore } from '../src/store/etcd-version-store.ts';
import { configStoreCases } from '../src/store/store-cases.ts';
import { StoreUnavailableError, VersionConflictError, type ConfigStore, type StoreHealth } from '../src/store/version-store.ts';
import { EtcdServer } from './helpers/etcd.ts';
import { eventually } from './helpers/process.ts';

let etcd: EtcdServer;
before(async () => {
  etcd = await EtcdServer.start();
});
after(() => etcd?.stop());

let n = 0;
const open = (prefix = `/test-${process.pid}-${n++}/`, extra: { probeInterval?: number; maxVersions?: number } = {}) =>
  EtcdVersionStore.open({ endpoints: [etcd.url], prefix, requestTimeout: 2000, dialTimeout: 5000, maxVersions: extra.maxVersions ?? 1000, ...extra });
const prefixOf = (store: ConfigStore) => store.location.split(' ').pop()!;

configStoreCases('etcd store', {
  open: () => open(),
  reopen: async (store) => {
    await store.close();
    return open(prefixOf(store));
  },
});

const entry = (text: string, author = 'a') => ({ text, author, message: 'm', source: 'api' as const });

test('etcd store: two instances racing on the same version — exactly one commit wins, the other gets a conflict', async () => {
  const prefix = `/race-${process.pid}/`;
  const [a, b] = await Promise.all([open(prefix), open(prefix)]);
  await a.commit(entry('v: 1\n'), 0);
  const results = await Promise.allSettled([a.commit(entry('v: a\n', 'a'), 1), b.commit(entry('v: b\n', 'b'), 1)]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.ok(lost[0]!.reason instanceof VersionConflictError && lost[0]!.reason.current === 2);
  // Without If-Match both land, numbered one after the other.
  const free = await Promise.all([a.commit(entry('v: 3\n')), b.commit(entry('v: 4\n'))]);
  assert.deepEqual(free.map((v) => v.version).sort(), [3, 4]);
  assert.deepEqual((await b.list()).map((v) => v.version), [1, 2, 3, 4]);
  await Promise.all([a.close(), b.close()]);
});

test('etcd store: past maxVersions the oldest versions are removed, numbering goes on', async () => {
  const store = await open(undefined, { maxVersions: 10 });
  for (let i = 1; i <= 13; i++) await store.commit(entry(`a: ${i}\n`));
  assert.deepEqual((await store.list()).map((v) => v.version), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  assert.equal(await store.get(3), undefined);
  assert.equal((await store.get(4))?.text, 'a: 4\n');
  await store.close();
});

test('etcd store: a follower hears of another instance\'s commit at once, and of etcd going away and coming back', async () => {
  const prefix = `/follow-${process.pid}/`;
  const writer = await open(prefix);
  const reader = await open(prefix, { probeInterval: 200 });
  const latest: number[] = [];
  const health: StoreHealth[] = [];
  const unfollow = reader.follow({ latest: (v) => latest.push(v), health: (h) => health.push(h) });
  try {
    const started = Date.now();
    await writer.commit(entry('a: 1\n'));
    await eventually(() => (latest.includes(1) ? true : undefined), 5000, 5);
    const heardMs = Date.now() - started;
    assert.ok(heardMs < 1000, `heard of the commit after ${heardMs} ms`);

    await etcd.kill();
    await eventually(() => (reader.health().state === 'degraded' ? true : undefined), 10_000);
    assert.match(reader.health().reason ?? '', /etcd unreachable/);
    await assert.rejects(reader.latest(), StoreUnavailableError);

    await etcd.resume();
    await eventually(() => (reader.health().state === 'ok' ? true : undefined), 15_000);
    await writer.commit(entry('a: 2\n'));
    await eventually(() => (latest.includes(2) ? true : undefined), 10_000);
    assert.deepEqual(health.map((h) => h.state).slice(-2), ['degraded', 'ok']);
  } finally {
    unfollow();
    await Promise.all([writer.close(), reader.close()]);
  }
});

test('etcd store: with authentication enabled, the configured user gets in and a wrong password is refused at once', async () => {
  const secured = await EtcdServer.start();
  try {
    const admin = new Etcd3({ hosts: secured.url });
    await admin.role('root').create();
    await admin.user('root').create('root-secret');
    await admin.user('root').addRole('root');
    await admin.auth.authEnable();
    admin.close();
    const options = { endpoints: [secured.url], prefix: '/auth/', requestTimeout: 2000, dialTimeout: 5000, maxVersions: 10 };
    const store = await EtcdVersionStore.open({ ...options, username: 'root', password: 'root-secret' });
    assert.equal((await store.commit(entry('a: 1\n'))).version, 1);
    await store.close();
    const started = Date.now();
    await assert.rejects(EtcdVersionStore.open({ ...options, username: 'root', password: 'wrong' }), /refused: .*auth/i);
    assert.ok(Date.now() - started < 4000, 'a refusal is not waited out like an outage');
  } finally {
    await secured.stop();
  }
});

test('etcd store: open() gives up on an unreachable etcd after dialTimeout', async () => {
  const started = Date.now();
  await assert.rejects(
    EtcdVersionStore.open({ endpoints: ['http://127.0.0.1:1'], prefix: '/x/', requestTimeout: 300, dialTimeout: 800, maxVersions: 10 }),
    (err: unknown) => err instanceof StoreUnavailableError && /cannot reach etcd at http:\/\/127.0.0.1:1/.test(err.message),
  );
  assert.ok(Date.now() - started < 5000);
});

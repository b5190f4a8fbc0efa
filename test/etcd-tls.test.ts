// etcd over TLS with a private CA and client certificates, as production etcd clusters run: a real etcd started
// with --client-cert-auth, certificates made with openssl for the test (helpers/certs.ts), Sluice keeping its config there through
// store.etcd.tls with paths relative to its config file (read beside the file, whatever the working directory).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EtcdVersionStore } from '../src/store/etcd-version-store.ts';
import { StoreUnavailableError } from '../src/store/version-store.ts';
import { makeCertificates } from './helpers/certs.ts';
import { EtcdServer } from './helpers/etcd.ts';
import { etcdClient } from '../src/etcd/client.ts';
import { admin, SluiceProcess, startSluice, tempDir, type RunningSluice } from './helpers/process.ts';

const temp = tempDir('sluice-etcd-tls-');
let etcd: EtcdServer;
let sluice: RunningSluice | undefined;

before(async () => {
  const certs = makeCertificates(temp.dir);
  etcd = await EtcdServer.start({ cert: certs.cert, key: certs.key, clientCa: certs.ca });
});

after(async () => {
  await sluice?.proc.stop();
  etcd?.stop();
  temp.remove();
});

test('Sluice keeps its config in an etcd that requires TLS client certificates, with files named relative to its config', async () => {
  const config = join(temp.dir, 'sluice.yaml');
  writeFileSync(config, `
listeners: [{ name: main, address: "127.0.0.1:0" }]
upstreams: [{ name: app, targets: [{ url: "http://127.0.0.1:9" }] }]
routes: [{ name: all, upstream: app }]
admin: { address: "127.0.0.1:0" }
store:
  etcd:
    endpoints: ["${etcd.url}"]
    prefix: /tls/
    tls: { ca: ca.crt, cert: client.crt, key: client.key }
`);
  sluice = await startSluice(config); // the test's working directory is the repository, not temp.dir
  const ready = await admin(sluice.adminUrl, '/readyz');
  const store = ready.body.store as { backend: string; state: string };
  assert.deepEqual([store.backend, store.state], ['etcd', 'ok']);
  assert.equal(ready.body.configVersion, 1, 'the file seeded etcd as version 1');
  const versions = await admin(sluice.adminUrl, '/api/v1/config/versions');
  assert.equal(versions.status, 200, JSON.stringify(versions.body));
});

test('without a client certificate the same etcd cannot be used: the store does not open', async () => {
  const opening = EtcdVersionStore.open({
    endpoints: [etcd.url], prefix: '/tls/', requestTimeout: 1000, dialTimeout: 1500, maxVersions: 10, tls: { ca: join(temp.dir, 'ca.crt') },
  });
  await assert.rejects(opening, (err: Error) => err instanceof StoreUnavailableError || /refused|certificate|handshake/i.test(err.message));
});

test('sluice register joins the registry of that etcd with --ca, --cert and --key', async () => {
  const certs = { ca: join(temp.dir, 'ca.crt'), cert: join(temp.dir, 'client.crt'), key: join(temp.dir, 'client.key') };
  const proc = new SluiceProcess(['register', '--etcd', etcd.url, '--service', 'orders', '--url', 'http://127.0.0.1:8081', '--ttl', '5s', '--ca', certs.ca, '--cert', certs.cert, '--key', certs.key]);
  try {
    await proc.waitForLog((l) => l.msg === 'registered', 10_000);
    const client = etcdClient({ endpoints: [etcd.url], requestTimeout: 2000, tls: certs });
    const registered = await client.getAll().prefix('/sluice/services/orders/').strings();
    client.close();
    assert.deepEqual(Object.values(registered).map((v) => (JSON.parse(v) as { url: string }).url), ['http://127.0.0.1:8081']);
  } finally {
    await proc.stop();
  }
});

// A reload that changes a listener (its limits here; its address in reload-watch.test.ts) binds a new socket and
// retires the old one. Clients already connected with keep-alive must not stay on the old socket, served with
// the old settings for as long as they keep the connection busy: the request in flight when the listener is
// retired is answered with Connection: close, and the next one arrives on the new socket.
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { startLoad } from './helpers/load.ts';
import { admin, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { listenUpstream, type TestUpstream } from './helpers/upstream.ts';

const temp = tempDir();
const path = join(temp.dir, 'sluice.yaml');
let up: TestUpstream;
let s: RunningSluice;

function config(maxUrlLength: number, maxHeaders = 100): string {
  return `listeners:
  - name: public
    address: 127.0.0.1:0
    limits: { maxUrlLength: ${maxUrlLength}, maxHeaders: ${maxHeaders} }
upstreams: [{ name: app, targets: [{ url: ${up.url} }] }]
routes: [{ name: all, match: { pathPrefix: / }, upstream: app }]
admin: { address: "127.0.0.1:0" }
`;
}

before(async () => {
  up = await listenUpstream(
    http.createServer((req, res) => {
      req.resume();
      const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0);
      setTimeout(() => res.writeHead(200, { 'x-upstream': 'app' }).end('ok'), ms);
    }),
  );
  writeAtomic(path, config(8192));
  s = await startSluice(path);
});

after(async () => {
  await s?.proc.stop();
  await up?.close();
  temp.remove();
});

test('new listener limits reach a keep-alive client that was mid-request during the reload', async () => {
  const client = new Pool(s.url(), { connections: 1 });
  try {
    const longPath = `/long/${'x'.repeat(300)}`;
    assert.equal((await (await client.request({ path: longPath, method: 'GET' })).body.text()), 'ok', 'allowed before');

    const inFlight = client.request({ path: '/slow?ms=700', method: 'GET' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    writeAtomic(path, config(100));
    const reload = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
    assert.equal(reload.status, 200, JSON.stringify(reload.body));

    const res = await inFlight;
    assert.equal(res.statusCode, 200);
    await res.body.text();
    assert.equal(res.headers.connection, 'close', 'the retired listener ended keep-alive on the request it was serving');

    const after = await client.request({ path: longPath, method: 'GET' });
    await after.body.text();
    assert.equal(after.statusCode, 414, 'the next request met the new limit');
  } finally {
    await client.close();
  }
});

test('listener changes under load (keep-alive and new connections) lose no request', async (t) => {
  // New connections are the ones an SO_REUSEPORT rebind would reset while they wait in the old socket's queue.
  const keepAlive = startLoad({ url: s.url(), paths: ['/churn'], concurrency: 6, maxDurationMs: 15_000 });
  const fresh = startLoad({ url: s.url(), paths: ['/churn-new'], concurrency: 3, maxDurationMs: 15_000, fresh: true });
  try {
    for (let i = 1; i <= 15; i++) {
      writeAtomic(path, config(8192, 100 + i));
      const reload = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
      assert.equal(reload.status, 200, JSON.stringify(reload.body));
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
  } finally {
    for (const [kind, stats] of [['keep-alive', await keepAlive.stop()], ['new connections', await fresh.stop()]] as const) {
      t.diagnostic(`15 listener rebinds, ${kind}: ${stats.sent} requests, ${stats.failures.length} failed`);
      assert.deepEqual(stats.failures.slice(0, 5), [], kind);
      assert.ok(stats.sent > 100, kind);
    }
  }
});

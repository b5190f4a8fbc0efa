import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Pool } from 'undici';
import { Mirror } from './mirror.ts';
import type { Outage } from './outage.ts';

interface Shadow {
  url: string;
  received: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  pending: http.ServerResponse[];
  close(): Promise<void>;
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

/** A shadow server; `hold` keeps every response open (a hung shadow). */
async function shadow(hold = false): Promise<Shadow> {
  const received: Shadow['received'] = [];
  const pending: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (hold) pending.push(res);
      else res.end('shadow answer');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  closers.push(close);
  return { url, received, pending, close };
}

function pool(url: string): Pool {
  const p = new Pool(url, { connections: 8 });
  closers.push(() => p.destroy());
  return p;
}

async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('Mirror', () => {
  test('sends a faithful copy: method, path, headers and a buffered body', async () => {
    const s = await shadow();
    const mirror = new Mirror({ dispatcher: pool(s.url) });
    assert.equal(mirror.mirror({ method: 'POST', path: '/orders?x=1', headers: ['content-type', 'application/json', 'x-request-id', 'r1'], body: Buffer.from('{"a":1}') }), true);
    await waitFor('the copy', () => mirror.stats().completed === 1);
    assert.deepEqual(
      { ...s.received[0], headers: undefined },
      { method: 'POST', url: '/orders?x=1', headers: undefined, body: '{"a":1}' },
    );
    assert.equal(s.received[0]!.headers['x-request-id'], 'r1');
    assert.equal(s.received[0]!.headers['content-type'], 'application/json');
  });

  test('copies about `percent` % of requests', async () => {
    const s = await shadow();
    let seed = 11;
    const mirror = new Mirror({ dispatcher: pool(s.url), percent: 20, maxConcurrent: 1000, random: () => ((seed = (seed * 48271) % 2147483647) / 2147483647) });
    let sent = 0;
    for (let i = 0; i < 1000; i++) if (mirror.mirror({ method: 'GET', path: `/${i}`, headers: [] })) sent++;
    assert.ok(sent > 160 && sent < 240, `${sent} of 1000`);
    await waitFor('all copies', () => mirror.stats().completed === sent);
    assert.equal(s.received.length, sent);
  });

  test('a hung shadow: mirror() returns at once, copies beyond maxConcurrent are skipped, timed-out slots free up', async () => {
    const s = await shadow(true);
    const outages: Outage[] = [];
    const mirror = new Mirror({ dispatcher: pool(s.url), maxConcurrent: 3, timeoutMs: 200, onOutage: (e) => outages.push(e) });
    const started = performance.now();
    const sent = Array.from({ length: 10 }, (_, i) => mirror.mirror({ method: 'GET', path: `/${i}`, headers: [] }));
    assert.ok(performance.now() - started < 20, 'mirroring never waits for the shadow');
    assert.deepEqual(sent.filter(Boolean).length, 3);
    assert.equal(mirror.stats().skipped, 7);
    await waitFor('the timeouts', () => mirror.stats().failed === 3);
    assert.equal(mirror.stats().inFlight, 0);
    assert.equal(outages.length, 1, 'the failing shadow is reported once');
    assert.equal(mirror.mirror({ method: 'GET', path: '/again', headers: [] }), true, 'slots are free again');
  });

  test('a shadow that is down: failures counted and reported once, and once more when it is back', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const outages: Outage[] = [];
    const mirror = new Mirror({ dispatcher: pool(`http://127.0.0.1:${port}`), onOutage: (e) => outages.push(e), name: 'mirror:shadow' });
    for (let i = 0; i < 20; i++) mirror.mirror({ method: 'GET', path: '/', headers: [] });
    await waitFor('the failures', () => mirror.stats().failed === 20);
    assert.deepEqual(outages.map((o) => [o.store, o.down]), [['mirror:shadow', true]]);

    const server = http.createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    mirror.mirror({ method: 'GET', path: '/', headers: [] });
    await waitFor('recovery', () => mirror.stats().completed === 1);
    assert.deepEqual(outages.map((o) => [o.down, o.degradedRequests]), [[true, undefined], [false, 20]]);
  });
});

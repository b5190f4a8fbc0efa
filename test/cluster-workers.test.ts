// `sluice start --workers 2`: the primary answers /readyz 503 until both workers run the config; both workers
// serve the one (port 0 → shared) listener port; a reload reaches every worker; a worker killed with SIGKILL is
// replaced while the other keeps serving; SIGTERM drains the workers and the primary exits 0.
//
// "Both serve" is shown by who owns the upstream connections: each worker has its own pool, and on Linux
// /proc/net/tcp plus /proc/PID/fd tell which process holds the socket the upstream saw a connection from.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { admin, eventually, runningFrom, SluiceProcess, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';
import { listenUpstream, type TestUpstream } from './helpers/upstream.ts';

const linux = process.platform === 'linux';
const temp = tempDir();
const path = join(temp.dir, 'sluice.yaml');
let up: TestUpstream;
/** Client port of every connection the upstream accepted (the worker's side of it). */
const upstreamPeers: number[] = [];
let s: RunningSluice;

function config(extraRoute = ''): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: app, targets: [{ url: ${up.url} }] }]
routes:
  - { name: all, match: { pathPrefix: / }, upstream: app }
${extraRoute}
server: { drainTimeout: 5s }
admin: { address: "127.0.0.1:0" }
`;
}

interface Worker {
  pid: number;
  version: number;
}

async function readiness(): Promise<{ status: number; body: Record<string, unknown> & { workerProcesses?: Worker[] } }> {
  return admin(s.adminUrl, '/readyz');
}

/** One request over a new connection (so the kernel picks a worker afresh each time). */
function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: s.port(), path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** PIDs (among `pids`) owning a TCP socket whose local port is one of `ports`. Linux only. */
function ownersOf(ports: number[], pids: number[]): Set<number> {
  const inodes = new Map<string, number>(); // socket inode → local port
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = parseInt(cols[1]!.split(':')[1]!, 16);
      if (ports.includes(localPort)) inodes.set(cols[9]!, localPort);
    }
  }
  const owners = new Set<number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) owners.add(pid);
      } catch {
        // the fd closed while we looked
      }
    }
  }
  return owners;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  up = await listenUpstream(
    http.createServer((req, res) => {
      req.resume();
      const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0);
      setTimeout(() => res.writeHead(200, { 'x-upstream': 'app' }).end(`pid-agnostic answer to ${req.url}`), ms);
    }),
  );
  up.server.on('connection', (socket) => upstreamPeers.push(socket.remotePort!));
  writeAtomic(path, config());
});

after(async () => {
  await s?.proc.stop();
  // SIGKILL of the primary leaves workers to notice the disconnect; make sure none outlives the test.
  for (const w of workerPids) if (alive(w)) process.kill(w, 'SIGKILL');
  await up?.close();
  temp.remove();
});

const workerPids = new Set<number>();

test('the primary is not ready until both workers run the config, then reports them and one shared port', async () => {
  const proc = new SluiceProcess(['start', '-c', path, '--workers', '2']);
  const listening = await proc.waitForLog((l) => l.msg === 'admin listening', 10_000).catch(async (err) => {
    await proc.stop();
    throw err;
  });
  const adminUrl = `http://127.0.0.1:${(listening.admin as { port: number }).port}`;
  s = { proc, adminUrl, adminPort: 0, port: () => 0, url: () => '' };
  const first = await readiness();
  assert.equal(first.status, 503, `workers take a moment to start: ${JSON.stringify(first.body)}`);
  assert.equal(first.body.status, 'not_ready');

  const started = await proc.waitForLog((l) => l.msg === 'sluice started', 20_000);
  s = runningFrom(proc, started as never);
  const ready = await readiness();
  assert.equal(ready.status, 200);
  assert.equal(ready.body.configVersion, 1);
  assert.equal(ready.body.workers, 2);
  assert.equal(ready.body.workersReady, 2);
  const listeners = ready.body.listeners as { name: string; port: number }[];
  assert.equal(listeners.length, 1);
  assert.ok(listeners[0]!.port > 0);
  const workers = ready.body.workerProcesses!;
  assert.equal(workers.length, 2);
  for (const w of workers) {
    assert.notEqual(w.pid, proc.pid);
    workerPids.add(w.pid);
  }
});

test('both workers serve the shared port', { skip: !linux && 'needs /proc' }, async () => {
  const workers = (await readiness()).body.workerProcesses!.map((w) => w.pid);
  const seen = upstreamPeers.length;
  for (let i = 0; i < 40; i++) assert.equal((await get(`/spread/${i}`)).status, 200);
  const owners = ownersOf(upstreamPeers.slice(seen), workers);
  assert.deepEqual([...owners].sort(), [...workers].sort(), 'each worker opened its own upstream connection');
});

test('a reload reaches every worker', async () => {
  writeAtomic(path, config('  - { name: fresh, match: { pathPrefix: /fresh }, upstream: app, responseHeaders: { set: { x-route: fresh } } }'));
  const ready = await eventually(async () => {
    const r = await readiness();
    return r.status === 200 && r.body.configVersion === 2 ? r : undefined;
  }, 5000);
  assert.deepEqual(ready.body.workerProcesses!.map((w) => w.version), [2, 2]);
  for (let i = 0; i < 30; i++) {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.port(), path: `/fresh/${i}`, agent: false }, resolve).on('error', reject);
    });
    res.resume();
    assert.equal(res.headers['x-route'], 'fresh', `request ${i} ran the new config`);
  }
});

test('a config that no worker can apply (its new listener port is taken) is rejected; all stay on the old one', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
  const busy = (blocker.address() as net.AddressInfo).port;
  try {
    writeAtomic(path, config('  - { name: fresh, match: { pathPrefix: /fresh }, upstream: app, responseHeaders: { set: { x-route: fresh } } }').replace(
      'listeners: [{ name: public, address: "127.0.0.1:0" }]',
      `listeners: [{ name: public, address: "127.0.0.1:0" }, { name: extra, address: "127.0.0.1:${busy}" }]`,
    ));
    const reply = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
    assert.equal(reply.status, 422);
    assert.match((reply.body.errors as string[])[0]!, new RegExp(`cannot bind listener "extra" to 127\\.0\\.0\\.1:${busy}: address already in use`));
    const ready = await readiness();
    assert.equal(ready.status, 200);
    assert.equal(ready.body.configVersion, 2);
    assert.deepEqual(ready.body.workerProcesses!.map((w) => w.version), [2, 2]);
    for (let i = 0; i < 10; i++) assert.equal((await get(`/fresh/${i}`)).status, 200);
  } finally {
    blocker.close();
    writeAtomic(path, config('  - { name: fresh, match: { pathPrefix: /fresh }, upstream: app, responseHeaders: { set: { x-route: fresh } } }'));
  }
  const back = await admin(s.adminUrl, '/api/v1/reload', { method: 'POST' });
  assert.deepEqual(back.body, { ok: true, version: 2, changed: false });
});

test('a worker killed with SIGKILL is replaced, and the other keeps serving meanwhile', async () => {
  const before = (await readiness()).body.workerProcesses!.map((w) => w.pid);
  const victim = before[0]!;
  process.kill(victim, 'SIGKILL');
  await eventually(() => (alive(victim) ? undefined : true), 3000);
  // Right away, before any replacement: the kernel sends new connections to the surviving worker.
  for (let i = 0; i < 30; i++) assert.equal((await get(`/during/${i}`)).status, 200);

  const ready = await eventually(async () => {
    const r = await readiness();
    const pids = r.body.workerProcesses?.map((w) => w.pid) ?? [];
    return r.status === 200 && pids.length === 2 && !pids.includes(victim) ? r : undefined;
  }, 10_000);
  const after = ready.body.workerProcesses!;
  for (const w of after) workerPids.add(w.pid);
  assert.deepEqual(after.map((w) => w.version), [2, 2], 'the replacement was given the running config');
  assert.ok(s.proc.logs.some((l) => l.msg === 'worker exited; starting a new one' && l.worker === victim));
  for (let i = 0; i < 20; i++) assert.equal((await get(`/fresh/after/${i}`)).status, 200);
});

test('SIGTERM drains the workers (a request in flight completes) and the primary exits 0', async (t) => {
  const workers = (await readiness()).body.workerProcesses!.map((w) => w.pid);
  const inFlight = get('/slow?ms=1000');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const signalled = Date.now();
  s.proc.kill('SIGTERM');
  // The workers stop accepting as soon as the primary's word reaches them, while the request is still running.
  let settled = false;
  void inFlight.finally(() => (settled = true));
  await eventually(async () => {
    try {
      await get('/late');
      return undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? true : undefined;
    }
  }, 700, 10);
  assert.equal(settled, false, 'new connections were refused before the request in flight ended');
  assert.equal((await inFlight).status, 200);
  const exit = await s.proc.waitForExit(10_000);
  const tookMs = Date.now() - signalled;
  t.diagnostic(`primary exited ${exit.code} ${tookMs} ms after SIGTERM (request in flight: ~800 ms left)`);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(tookMs < 4000, `took ${tookMs} ms`);
  for (const pid of workers) assert.equal(alive(pid), false, `worker ${pid} is gone`);
});

test('a primary killed with SIGKILL leaves no workers behind', async () => {
  const proc = new SluiceProcess(['start', '-c', path, '--workers', '2']);
  try {
    await proc.waitForLog((l) => l.msg === 'sluice started', 20_000);
    const adminPort = (proc.logs.find((l) => l.msg === 'admin listening')!.admin as { port: number }).port;
    const workers = ((await admin(`http://127.0.0.1:${adminPort}`, '/readyz')).body.workerProcesses as Worker[]).map((w) => w.pid);
    for (const pid of workers) workerPids.add(pid);
    proc.kill('SIGKILL');
    await proc.exited;
    // Each worker sees the IPC channel close, drains (nothing in flight) and exits.
    await eventually(() => (workers.some(alive) ? undefined : true), 5000);
  } finally {
    await proc.stop();
  }
});

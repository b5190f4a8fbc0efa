// Graceful shutdown of `sluice start --workers 1`: on SIGTERM or SIGINT the listener stops accepting at once,
// a request in flight still completes, and the process exits 0 as soon as it has; a request that outlives
// server.drainTimeout is cut at the deadline and the process still exits 0.
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startSluice, tempDir, writeAtomic } from './helpers/process.ts';
import { listenUpstream, type TestUpstream } from './helpers/upstream.ts';

let slow: TestUpstream;
/** Requests the upstream has received (resolved by waiters). */
let arrivals = 0;
const arrivalWaiters = new Set<() => void>();
const temp = tempDir();

before(async () => {
  // Answers after ?ms=N milliseconds.
  slow = await listenUpstream(
    http.createServer((req, res) => {
      req.resume();
      arrivals++;
      for (const w of arrivalWaiters) w();
      const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0);
      const timer = setTimeout(() => res.writeHead(200, { 'x-upstream': 'slow' }).end(`slept ${ms}`), ms);
      res.on('close', () => clearTimeout(timer));
    }),
  );
});

after(async () => {
  await slow?.close();
  temp.remove();
});

function config(drainTimeout: string): string {
  return `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams: [{ name: slow, targets: [{ url: ${slow.url} }] }]
routes: [{ name: all, match: { pathPrefix: / }, upstream: slow }]
server: { drainTimeout: ${drainTimeout} }
admin: { address: "127.0.0.1:0" }
`;
}

interface Outcome {
  status?: number;
  body?: string;
  error?: string;
}

/** One request on its own connection; resolves with the answer or the error that ended it. */
function request(port: number, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** Resolves once the upstream has received `n` requests in total. */
function upstreamReceived(n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (arrivals < n) return;
      arrivalWaiters.delete(check);
      resolve();
    };
    arrivalWaiters.add(check);
    check();
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: the request in flight completes, new connections are refused, exit 0 when drained`, async (t) => {
    const path = join(temp.dir, `drain-${signal}.yaml`);
    writeAtomic(path, config('5s'));
    const s = await startSluice(path);
    try {
      const port = s.port();
      const inFlight = request(port, '/work?ms=1000');
      await upstreamReceived(arrivals + 1);
      const signalled = Date.now();
      s.proc.kill(signal);
      await s.proc.waitForLog((l) => l.msg === 'shutting down: draining in-flight requests', 3000);
      // The listener closes right after that line is written; a connection racing the close may be reset
      // rather than refused, and none is served.
      let settled = false;
      void inFlight.finally(() => (settled = true));
      for (let attempt = 0; ; attempt++) {
        const late = await request(port, '/late');
        assert.ok(late.error === 'ECONNREFUSED' || late.error === 'ECONNRESET', `a new connection after ${signal}: ${JSON.stringify(late)}`);
        if (late.error === 'ECONNREFUSED') break;
        assert.ok(attempt < 20, 'the listener never stopped accepting');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(settled, false, 'new connections were refused while the request was still running');

      assert.deepEqual(await inFlight, { status: 200, body: 'slept 1000' });
      const exit = await s.proc.waitForExit(8000);
      const tookMs = Date.now() - signalled;
      t.diagnostic(`${signal}: exit ${exit.code} ${tookMs} ms after the signal (request needed ~1000 ms, drainTimeout 5 s)`);
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(tookMs >= 800 && tookMs < 3000, `exited ${tookMs} ms after the signal`);
      assert.ok(s.proc.messages().includes('stopped'));
    } finally {
      await s.proc.stop();
    }
  });
}

test('a request longer than server.drainTimeout is cut at the deadline, and the exit is still 0', async (t) => {
  const path = join(temp.dir, 'deadline.yaml');
  writeAtomic(path, config('1s'));
  const s = await startSluice(path);
  try {
    const inFlight = request(s.port(), '/work?ms=6000');
    await upstreamReceived(arrivals + 1);
    const signalled = Date.now();
    s.proc.kill('SIGTERM');
    const exit = await s.proc.waitForExit(8000);
    const tookMs = Date.now() - signalled;
    t.diagnostic(`exit ${exit.code} ${tookMs} ms after SIGTERM with drainTimeout 1 s and a 6 s request`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(tookMs >= 900 && tookMs < 2500, `exited ${tookMs} ms after the signal`);
    const outcome = await inFlight;
    assert.ok(outcome.error !== undefined, `the long request was cut: ${JSON.stringify(outcome)}`);
  } finally {
    await s.proc.stop();
  }
});

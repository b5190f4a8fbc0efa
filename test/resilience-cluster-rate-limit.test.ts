// Local rate limiting across worker processes: two real child processes, each with a ClusterRateLimitStore on its
// IPC channel, hammer one bucket held by this process (standing in for the cluster primary). The buckets' clock is
// frozen, so nothing refills and the exact answer is known: together they get `burst` and not one request more.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { serveRateLimitTakes, type IpcChannel } from '../src/resilience/rate-limit/cluster-store.ts';
import { LocalRateLimitStore } from '../src/resilience/rate-limit/local-store.ts';

const storeUrl = pathToFileURL(new URL('../src/resilience/rate-limit/cluster-store.ts', import.meta.url).pathname).href;
const rateUrl = pathToFileURL(new URL('../src/resilience/rate-limit/rate.ts', import.meta.url).pathname).href;

const WORKER = `
import { ClusterRateLimitStore } from ${JSON.stringify(storeUrl)};
import { parseRate } from ${JSON.stringify(rateUrl)};
const store = new ClusterRateLimitStore({ timeoutMs: 5000 });
const rate = parseRate('10/s');
process.on('message', async (m) => {
  if (m.type !== 'go') return;
  let allowed = 0, degraded = 0;
  // 8 concurrent request loops, as a worker under load would have.
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let i = 0; i < m.perLoop; i++) {
      const d = await store.take('shared', rate, m.burst);
      if (d.allowed) allowed++;
      if (d.degraded) degraded++;
    }
  }));
  await store.close();
  process.send({ type: 'done', allowed, degraded }, () => process.disconnect());
});
process.send({ type: 'ready' });
`;

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
});

function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', WORKER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker not ready within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
    child.on('message', (m: { type: string }) => {
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      resolve(child);
    });
  });
}

function result(child: ChildProcess): Promise<{ allowed: number; degraded: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker did not finish within 20 s')), 20_000);
    child.on('message', (m: { type: string; allowed: number; degraded: number }) => {
      if (m.type !== 'done') return;
      clearTimeout(timer);
      resolve(m);
    });
  });
}

test('two worker processes limited through the primary admit exactly `burst` between them', async () => {
  const buckets = new LocalRateLimitStore({ now: () => 0, sweepIntervalMs: 0 });
  const workers = await Promise.all([startWorker(), startWorker()]);
  for (const w of workers) serveRateLimitTakes(w as unknown as IpcChannel, buckets);
  const done = workers.map(result);
  for (const w of workers) w.send({ type: 'go', perLoop: 250, burst: 1500 }); // 2 × 8 × 250 = 4000 asked
  const [a, b] = await Promise.all(done);
  assert.equal(a!.degraded + b!.degraded, 0);
  assert.equal(a!.allowed + b!.allowed, 1500);
  assert.ok(a!.allowed > 0 && b!.allowed > 0, `both workers were served (${a!.allowed} / ${b!.allowed})`);
});

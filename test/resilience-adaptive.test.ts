// The adaptive concurrency limit end to end, against an upstream with a real capacity (8 requests at a time, the
// rest queue) and an open-loop load at a fixed rate, as real clients arrive: when the upstream slows down tenfold
// its capacity falls below the offered rate, and without a limit its queue (and everyone's latency) would grow
// for as long as the slowdown lasts. Sluice (a real `sluice start`) learns the slower latency, sheds the excess
// with 503 overloaded and keeps the latency of what it admits bounded; when the upstream recovers, so does the
// throughput.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { client, misbehaving, percentile, type Misbehaving } from './helpers/misbehaving.ts';
import { admin, startSluice, tempDir, writeAtomic, type RunningSluice } from './helpers/process.ts';

const RATE = 200; // requests per second offered
const CAPACITY = 8; // requests the upstream serves at once
const FAST_MS = 10; // 8 / 10 ms = 800 requests/s: plenty
const SLOW_MS = 100; // 8 / 100 ms = 80 requests/s: well below the offered rate

const temp = tempDir();
let up: Misbehaving;
let s: RunningSluice;

async function sluice(name: string, adaptive: boolean): Promise<RunningSluice> {
  const path = join(temp.dir, `${name}.yaml`);
  writeAtomic(
    path,
    `listeners: [{ name: public, address: "127.0.0.1:0" }]
upstreams:
  - name: app
    targets: [{ url: "${up.url}" }]
${adaptive ? '    adaptiveConcurrency: { bufferPercent: 100, minLimit: 8 }' : ''}
routes: [{ name: all, upstream: app }]
admin: { address: "127.0.0.1:0" }
`,
  );
  return startSluice(path);
}

before(async () => {
  up = await misbehaving('app', { kind: 'slow', ms: FAST_MS, capacity: CAPACITY });
  s = await sluice('adaptive', true);
});

after(async () => {
  await s?.proc.stop();
  await up?.close();
  temp.remove();
});

interface Outcome {
  sentAt: number;
  status: number;
  ms: number;
  code?: unknown;
}

/** Sends RATE requests per second for `ms`, whatever the answers (open loop); resolves when all are answered. */
async function offer(http: ReturnType<typeof client>, ms: number, outcomes: Outcome[]): Promise<void> {
  const started = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  while (performance.now() - started < ms) {
    const due = Math.floor(((performance.now() - started) / 1000) * RATE);
    for (; sent < due; sent++) {
      const sentAt = performance.now();
      pending.push(
        http.send().then(
          (r) => void outcomes.push({ sentAt, status: r.status, ms: r.ms, code: r.headers['x-sluice-error'] }),
          () => void outcomes.push({ sentAt, status: 0, ms: performance.now() - sentAt }),
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(pending);
}

test('a tenfold slowdown is shed with 503 overloaded, admitted latency stays bounded, and throughput recovers', async (t) => {
  const http = client(s.url(), { connections: 512 });
  try {
    const fast: Outcome[] = [];
    await offer(http, 1500, fast);
    up.behave({ kind: 'slow', ms: SLOW_MS, capacity: CAPACITY });
    const slow: Outcome[] = [];
    const slowStart = performance.now();
    await offer(http, 5000, slow);
    const during = (await admin(s.adminUrl, '/api/v1/upstreams')).body as { upstreams: Array<{ adaptiveConcurrency: { limit: number; shed: number; minRttMs: number } }> };
    up.behave({ kind: 'slow', ms: FAST_MS, capacity: CAPACITY });
    const recovered: Outcome[] = [];
    await offer(http, 2000, recovered);

    // Before: (almost) everything served. The limiter compares latencies of a few ms, and on a CPU-starved test
    // machine Sluice's own stalls look like queueing to it, so it may shed a little even here.
    const fastServed = fast.filter((o) => o.status === 200).length / fast.length;
    assert.ok(fastServed > 0.9, `no shedding to speak of while the upstream keeps up: ${(fastServed * 100).toFixed(1)} % served`);

    // During: the excess is shed with 503 overloaded; what is admitted is served at about the upstream's speed.
    const settled = slow.filter((o) => o.sentAt - slowStart > 1500);
    const admitted = settled.filter((o) => o.status === 200);
    const shed = settled.filter((o) => o.status === 503 && o.code === 'overloaded');
    assert.equal(admitted.length + shed.length, settled.length, 'every answer is a 200 or a 503 overloaded');
    const served = admitted.length / ((5000 - 1500) / 1000);
    assert.ok(served > 0.8 * (CAPACITY * 1000) / SLOW_MS, `the upstream is kept busy: ${served.toFixed(0)}/s admitted`);
    assert.ok(shed.length / settled.length > 0.2, `the excess is shed: ${shed.length} of ${settled.length}`);
    const p99 = percentile(admitted.map((o) => o.ms), 99);
    t.diagnostic(`slowed: ${served.toFixed(0)}/s admitted, ${shed.length} of ${settled.length} shed, admitted p99 ${p99.toFixed(0)} ms`);
    // Served at capacity with a small queue: a few service times (100-250 ms on a quiet machine), where an unbounded
    // queue would reach seconds (120 requests/s too many for 3.5 s is ~400 queued, a 5 s wait).
    assert.ok(p99 < 10 * SLOW_MS, `admitted p99 ${p99.toFixed(0)} ms`);
    const shedFast = percentile(shed.map((o) => o.ms), 99);
    assert.ok(shedFast < SLOW_MS, `shedding is immediate: p99 ${shedFast.toFixed(0)} ms`);
    const limiter = during.upstreams[0]!.adaptiveConcurrency;
    assert.ok(limiter.limit < 30 && limiter.shed > 0, `limit ${limiter.limit}, shed ${limiter.shed}`);

    // After: back to serving everything.
    const last = recovered.filter((o) => o.sentAt - recovered[0]!.sentAt > 1000);
    const ok = last.filter((o) => o.status === 200).length / last.length;
    assert.ok(ok > 0.9, `throughput recovers: ${(ok * 100).toFixed(1)} % served in the last second`);
  } finally {
    await http.close();
  }
});

test('without the limit, the same slowdown builds a queue: latency grows for as long as it lasts', async (t) => {
  const plain = await sluice('plain', false);
  const http = client(plain.url(), { connections: 1024 });
  try {
    up.behave({ kind: 'slow', ms: SLOW_MS, capacity: CAPACITY });
    const slow: Outcome[] = [];
    await offer(http, 3000, slow);
    const first = slow.filter((o) => o.sentAt - slow[0]!.sentAt < 500);
    const last = slow.filter((o) => o.sentAt - slow[0]!.sentAt > 2500);
    assert.ok(slow.every((o) => o.status === 200), 'nothing is shed');
    const p50 = (xs: Outcome[]) => percentile(xs.map((o) => o.ms), 50);
    t.diagnostic(`no limit: median ${p50(first).toFixed(0)} ms in the first 0.5 s, ${p50(last).toFixed(0)} ms after 2.5 s`);
    assert.ok(p50(last) > 1000 && p50(last) > 4 * p50(first), `queueing: median ${p50(first).toFixed(0)} ms at first, ${p50(last).toFixed(0)} ms after 2.5 s`);
  } finally {
    up.behave({ kind: 'slow', ms: FAST_MS, capacity: CAPACITY });
    await http.close();
    await plain.proc.stop();
  }
});

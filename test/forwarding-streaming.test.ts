// Bodies stream through Sluice both ways without being buffered: 1 GiB up and 1 GiB down through a gateway running in
// a child process, whose resident memory is sampled from /proc while the bytes flow. Each side pauses reading for a
// while in the middle, so a gateway that ignored backpressure would have to hold everything sent meanwhile.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenUpstream, type TestUpstream } from './helpers/upstream.ts';

const GiB = 1024 ** 3;
const CHUNK = 64 * 1024;
const MAX_GROWTH = 100 * 1024 * 1024;
const TRANSFER_DEADLINE = 60_000;
/** How long the reading side stops reading in the middle of a transfer. */
const STALL_MS = 1500;

const GATEWAY_MAIN = new URL('../src/proxy/gateway.ts', import.meta.url).href;
const SCHEMA = new URL('../src/config/schema.ts', import.meta.url).href;

/** The child: parse the config from argv with the real schema, start a Gateway, print its port. */
const CHILD_SCRIPT = `
import { Gateway } from ${JSON.stringify(GATEWAY_MAIN)};
import { configSchema } from ${JSON.stringify(SCHEMA)};
const gateway = new Gateway();
await gateway.apply(configSchema.parse(JSON.parse(process.argv[1])));
process.stdout.write('PORT ' + gateway.addresses()[0].port + '\\n');
process.on('SIGTERM', () => gateway.close(500).then(() => process.exit(0)));
`;

/** Deterministic but varied content: chunk i is filled from its index, so a dropped or repeated chunk changes the hash. */
function chunkAt(i: number): Buffer {
  const buf = Buffer.allocUnsafe(CHUNK);
  buf.fill(i & 0xff);
  buf.writeUInt32BE(i, 0);
  return buf;
}

interface Tally {
  bytes: number;
  sha256: string;
}

function expectedTally(total: number): Tally {
  const hash = createHash('sha256');
  for (let i = 0; i * CHUNK < total; i++) hash.update(chunkAt(i));
  return { bytes: total, sha256: hash.digest('hex') };
}

/** Writes `total` bytes to a writable, honouring backpressure. */
async function produce(out: NodeJS.WritableStream & { destroyed?: boolean }, total: number): Promise<void> {
  for (let i = 0; i * CHUNK < total; i++) {
    if (out.destroyed) throw new Error('destination closed early');
    if (!out.write(chunkAt(i))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          out.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          out.off('drain', onDrain);
          reject(new Error('destination closed while waiting for drain'));
        };
        out.once('drain', onDrain);
        out.once('close', onClose);
      });
    }
  }
  out.end();
}

/** Reads a stream to the end, hashing as it goes; stops reading for STALL_MS once `stallAt` bytes arrived. */
function consume(input: NodeJS.ReadableStream, stallAt: number): Promise<Tally> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let stalled = false;
    input.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (!stalled && bytes >= stallAt) {
        stalled = true;
        input.pause();
        setTimeout(() => input.resume(), STALL_MS);
      }
    });
    input.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    input.on('error', reject);
  });
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kb) throw new Error('no VmRSS');
  return Number(kb[1]) * 1024;
}

/** Samples the child's RSS every 50 ms until stopped; returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      // the child is gone; the transfer will fail on its own
    }
  }, 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${TRANSFER_DEADLINE} ms`)), TRANSFER_DEADLINE);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function startChildGateway(upstreamUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const config = {
    listeners: [{ name: 'big', address: '127.0.0.1:0' }],
    upstreams: [{ name: 'bulk', targets: [{ url: upstreamUrl }] }],
    routes: [{ name: 'bulk', upstream: 'bulk' }],
  };
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child gateway did not start within 10 s')), 10_000);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child gateway exited with ${code}`));
    });
  });
  return { child, port };
}

describe('1 GiB each way through a gateway in a child process', { timeout: 180_000 }, () => {
  let upstream: TestUpstream;
  let gateway: { child: ChildProcess; port: number };
  /** What the upstream read from the last upload. */
  let uploaded: Promise<Tally> | undefined;
  const expected = expectedTally(GiB);

  before(async () => {
    const server = http.createServer((req, res) => {
      if (req.method === 'POST') {
        uploaded = consume(req, 256 * 1024 * 1024);
        uploaded.then(
          (tally) => res.end(JSON.stringify(tally)),
          () => res.destroy(),
        );
        return;
      }
      const size = Number(new URL(req.url!, 'http://x').searchParams.get('size'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      produce(res, size).catch(() => res.destroy());
    });
    upstream = await listenUpstream(server);
    gateway = await startChildGateway(upstream.url);
    // Warm up with a smaller transfer each way, so the baseline is the working set of a gateway that has moved bytes
    // (code compiled, pools and heap spaces grown to their steady size), and growth measures what scales with size.
    const warm = 64 * 1024 * 1024;
    await new Promise<void>((resolve, reject) => {
      http.get(`http://127.0.0.1:${gateway.port}/?size=${warm}`, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gateway.port, method: 'POST', path: '/warm' }, (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      produce(req, warm).catch(reject);
    });
    await sleep(200);
  });

  after(async () => {
    const exited = new Promise((resolve) => gateway?.child.once('exit', resolve));
    gateway?.child.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    await upstream?.close();
  });

  test('download: every byte arrives in order and the gateway stays flat', async (t) => {
    const baseline = rssOf(gateway.child.pid!);
    const rss = sampleRss(gateway.child.pid!);
    const got = await withDeadline(
      new Promise<Tally>((resolve, reject) => {
        const req = http.get(`http://127.0.0.1:${gateway.port}/?size=${GiB}`, { agent: false }, (res) => {
          assert.equal(res.statusCode, 200);
          consume(res, 256 * 1024 * 1024).then(resolve, reject);
        });
        req.on('error', reject);
      }),
      'download',
    );
    const growth = rss.stop() - baseline;
    t.diagnostic(`gateway RSS: baseline ${(baseline / 2 ** 20).toFixed(1)} MiB, peak growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    assert.deepEqual(got, expected);
    assert.ok(growth < MAX_GROWTH, `gateway RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  });

  test('upload: every byte arrives in order and the gateway stays flat', async (t) => {
    const baseline = rssOf(gateway.child.pid!);
    const rss = sampleRss(gateway.child.pid!);
    const answer = await withDeadline(
      new Promise<string>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: gateway.port, method: 'POST', path: '/upload', agent: false, headers: { 'content-type': 'application/octet-stream' } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
          },
        );
        req.on('error', reject);
        produce(req, GiB).catch(reject);
      }),
      'upload',
    );
    const growth = rss.stop() - baseline;
    t.diagnostic(`gateway RSS: baseline ${(baseline / 2 ** 20).toFixed(1)} MiB, peak growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    assert.deepEqual(JSON.parse(answer), expected);
    assert.deepEqual(await uploaded, expected);
    assert.ok(growth < MAX_GROWTH, `gateway RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  });
});

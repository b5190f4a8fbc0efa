// Access-log lines (fields, filters, sampling) and their sinks: file rotation by size and by time, Loki pushes with
// retries, and what happens under backpressure — lines dropped and counted, the request path never waiting.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { observabilitySchema, type ObservabilityInput } from '../src/config/observability-schema.ts';
import { createObservability, type RequestRecord } from '../src/observability/index.ts';
import { FileSink } from '../src/observability/sinks/file.ts';

function record(over: Partial<RequestRecord> & { durationMs?: number } = {}): RequestRecord {
  const start = performance.now() - 100;
  const { durationMs = 12.5, ...rest } = over;
  return {
    listener: 'public', route: 'users-api', upstream: 'users', target: 'http://127.0.0.1:3001', method: 'GET', path: '/api/users/1',
    status: 200, errorCode: undefined, clientAddress: '192.0.2.10', requestId: 'req-1', startTime: start, upstreamStart: start + 1,
    firstByte: start + 4, endTime: start + durationMs, bytesIn: 3, bytesOut: 10, attempts: 1, userAgent: 'curl/8', ...rest,
  };
}

function capture(): { stream: PassThrough; lines: () => Array<Record<string, unknown>> } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function observe(accessLog: ObservabilityInput['accessLog'], stdout?: Writable, extra: ObservabilityInput = {}) {
  const config = observabilitySchema.parse({ metrics: { processMetrics: false }, tracing: { sampler: 'always' }, accessLog, ...extra });
  return createObservability(config, { stdout, instance: 'gw-test' });
}

function serve(o: ReturnType<typeof observe>, over: Partial<RequestRecord> & { durationMs?: number } = {}) {
  const t = o.startRequest({}, 'public', over.route ?? 'users-api');
  t.end(record(over));
  return t;
}

async function metric(o: ReturnType<typeof observe>, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await o.metrics.render(false));
  return m ? Number(m[1]) : Number.NaN;
}

describe('access-log lines', () => {
  it('carry the trace and span ids of the request, its route, target, status, durations, bytes and client', async () => {
    const out = capture();
    const o = observe({ sink: 'stdout', buffer: { flushInterval: 5 } }, out.stream);
    const t = serve(o);
    await o.flush();
    const [line] = out.lines();
    const { time, ...fields } = line!;
    assert.match(String(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(fields, {
      log: 'access', trace_id: t.traceId, span_id: t.spanId, request_id: 'req-1', listener: 'public', route: 'users-api', upstream: 'users',
      target: 'http://127.0.0.1:3001', method: 'GET', path: '/api/users/1', status: 200, duration_ms: 12.5, upstream_ms: 11.5,
      ttfb_ms: 4, bytes_in: 3, bytes_out: 10, attempts: 1, client_address: '192.0.2.10', user_agent: 'curl/8', sampled: true,
    });
    await o.close();
  });

  it('stay one valid JSON line whatever the path, user agent or request id hold', async () => {
    const out = capture();
    const o = observe({ sink: 'stdout', fields: ['request_id', 'path', 'user_agent'] }, out.stream);
    const hostile = { path: '/a"b\\c/%22', userAgent: 'x\u0000y\n{"log":"forged"}\u2028é😀', requestId: 'id"\t' };
    serve(o, hostile);
    await o.flush();
    assert.deepEqual(out.lines(), [{ log: 'access', request_id: hostile.requestId, path: hostile.path, user_agent: hostile.userAgent }]);
    await o.close();
  });

  it('write only the configured fields', async () => {
    const out = capture();
    const o = observe({ sink: 'stdout', fields: ['trace_id', 'status', 'duration_ms', 'error_code'] }, out.stream);
    const t = serve(o, { status: 504, errorCode: 'upstream_timeout' });
    await o.flush();
    assert.deepEqual(out.lines(), [{ log: 'access', trace_id: t.traceId, status: 504, duration_ms: 12.5, error_code: 'upstream_timeout' }]);
    await o.close();
  });

  it('errorsOnly keeps 5xx, requests without a response and Sluice errors', async () => {
    const out = capture();
    const o = observe({ sink: 'stdout', errorsOnly: true, fields: ['status', 'error_code'] }, out.stream);
    serve(o, { status: 200 });
    serve(o, { status: 404 });
    serve(o, { status: 413, errorCode: 'payload_too_large' });
    serve(o, { status: 503 });
    serve(o, { status: 0 });
    await o.flush();
    assert.deepEqual(out.lines().map((l) => l.status), [413, 503, 0]);
    await o.close();
  });

  it('slowerThan keeps slow requests; with errorsOnly, errors or slow ones', async () => {
    const slowOnly = capture();
    const a = observe({ sink: 'stdout', slowerThan: '1s', fields: ['status', 'duration_ms'] }, slowOnly.stream);
    const either = capture();
    const b = observe({ sink: 'stdout', slowerThan: '1s', errorsOnly: true, fields: ['status', 'duration_ms'] }, either.stream);
    for (const o of [a, b]) {
      serve(o, { durationMs: 10 });
      serve(o, { durationMs: 1500 });
      serve(o, { durationMs: 10, status: 502 });
      await o.flush();
    }
    assert.deepEqual(slowOnly.lines(), [{ log: 'access', status: 200, duration_ms: 1500 }]);
    assert.deepEqual(either.lines().map((l) => l.status), [200, 502]);
    await Promise.all([a.close(), b.close()]);
  });

  it('sampling writes about that fraction of ordinary lines, and every error', async () => {
    const out = capture();
    const o = observe({ sink: 'stdout', sampling: 0.25, fields: ['status'] }, out.stream);
    for (let i = 0; i < 4000; i++) serve(o);
    for (let i = 0; i < 50; i++) serve(o, { status: 500 });
    await o.flush();
    const lines = out.lines();
    const ok = lines.filter((l) => l.status === 200).length;
    assert.ok(ok > 800 && ok < 1200, `${ok} of 4000 ordinary lines`);
    assert.equal(lines.filter((l) => l.status === 500).length, 50);
    await o.close();
  });

  it('goes to its own stream, not through the main logger, and stops when the section is off', async () => {
    const out = capture();
    const o = observe({ enabled: false }, out.stream);
    serve(o);
    await o.flush();
    assert.equal(out.lines().length, 0);
    await o.close();
  });
});

describe('backpressure', () => {
  it('drops and counts lines when the destination stalls, without ever blocking a request', async () => {
    // A destination that accepts one write and then never finishes it, like a pipe nobody reads.
    const stalled = new Writable({ highWaterMark: 1, write: () => undefined });
    const o = observe({ sink: 'stdout', buffer: { maxLines: 50, maxBatch: 10, flushInterval: 5 } }, stalled);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) serve(o);
    assert.ok(performance.now() - started < 2000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < 100; i++) serve(o);
    const dropped = await metric(o, /sluice_access_log_records_total\{sink="stdout",outcome="dropped"\} (\d+)/);
    // At most one batch is in the stalled write and 50 lines wait; the rest were dropped.
    assert.ok(dropped >= 1100 - 50 - 1000 / 10 && dropped <= 1100 - 50, `dropped ${dropped}`);
    // Shutting down: the stalled write errors out, and every line is accounted for — written, dropped or failed.
    stalled.destroy();
    await o.close();
    const outcome = (name: string) => metric(o, new RegExp(`sluice_access_log_records_total\\{sink="stdout",outcome="${name}"\\} (\\d+)`));
    assert.equal((await outcome('written')) + (await outcome('dropped')) + (await outcome('failed')), 1100);
  });

  it('a busy sink writes full batches, not whatever arrived during the last write', async () => {
    // A destination whose writes take 2 ms, fed 20 lines a millisecond for 200 ms: 4000 lines. Sending whatever came
    // in after each write would make about a hundred small writes; full batches of 1000 make four or five.
    const writes: number[] = [];
    const slow = new Writable({
      writev(chunks, done) {
        writes.push(Buffer.concat(chunks.map((c) => c.chunk as Buffer)).toString().split('\n').length - 1);
        setTimeout(done, 2);
      },
    });
    const o = observe({ sink: 'stdout', buffer: { maxBatch: 1000, flushInterval: '10s' } }, slow);
    for (let ms = 0; ms < 200; ms++) {
      for (let i = 0; i < 20; i++) serve(o);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await o.flush();
    assert.equal(writes.reduce((a, b) => a + b, 0), 4000, 'every line written');
    assert.ok(writes.length <= 6, `${writes.length} writes: ${writes.join(', ')}`);
    assert.ok(writes.slice(0, -1).every((n) => n >= 1000), `batches before the flush are full: ${writes.join(', ')}`);
    await o.close();
  });

  it('bounds buffered bytes as well as lines', async () => {
    const stalled = new Writable({ highWaterMark: 1, write: () => undefined });
    const o = observe({ sink: 'stdout', buffer: { maxLines: 100_000, maxBytes: '4KiB', maxBatch: 1000 } }, stalled);
    for (let i = 0; i < 200; i++) serve(o);
    const dropped = await metric(o, /sluice_access_log_records_total\{sink="stdout",outcome="dropped"\} (\d+)/);
    assert.ok(dropped > 150, `dropped ${dropped} of 200 lines of ~400 bytes with a 4 KiB buffer`);
    stalled.destroy();
    await o.close();
  });
});

describe('file sink', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-access-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const buffer = observabilitySchema.parse({}).accessLog.buffer;

  it('rotates by size, keeping maxFiles rotated files beside the active one', async () => {
    const path = join(dir, 'size', 'access.log');
    const counts = { written: 0, dropped: 0, failed: 0 };
    const sink = new FileSink('file', { path, maxSize: 1000, rotateEvery: 0, maxFiles: 2 }, { ...buffer, maxBatch: 1 }, {
      count: (outcome, n) => (counts[outcome] += n),
    });
    for (let i = 0; i < 20; i++) {
      sink.write(`${JSON.stringify({ i, pad: 'x'.repeat(280) })}\n`); // 300 bytes
      await sink.flush();
    }
    await sink.close();
    const files = (await readdir(join(dir, 'size'))).sort();
    assert.equal(files.length, 3, files.join(' '));
    assert.ok(files.includes('access.log'));
    for (const f of files) assert.match(f, /^access(?:-\d{8}T\d{6}(?:-\d+)?)?\.log$/);
    for (const f of files) assert.ok((await stat(join(dir, 'size', f))).size <= 1000);
    const active = (await readFile(path, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(active, [18, 19]);
    assert.deepEqual(counts, { written: 20, dropped: 0, failed: 0 });
  });

  it('never rotates what is not a regular file (a device such as /dev/stdout is written, not renamed)', async () => {
    const linkDir = join(dir, 'device');
    await mkdir(linkDir);
    const path = join(linkDir, 'access.log');
    await symlink('/dev/null', path);
    const counts = { written: 0, dropped: 0, failed: 0 };
    const sink = new FileSink('file', { path, maxSize: 1000, rotateEvery: 1000, maxFiles: 2 }, { ...buffer, maxBatch: 1 }, {
      count: (outcome, n) => (counts[outcome] += n),
    });
    for (let i = 0; i < 10; i++) {
      sink.write(`${JSON.stringify({ i, pad: 'x'.repeat(280) })}\n`);
      await sink.flush();
    }
    await sink.close();
    assert.deepEqual(await readdir(linkDir), ['access.log'], 'nothing rotated beside the link');
    assert.ok((await lstat(path)).isSymbolicLink());
    assert.deepEqual(counts, { written: 10, dropped: 0, failed: 0 });
  });

  it('rotates at every multiple of rotateEvery, and a file left from an earlier period first', async () => {
    const path = join(dir, 'time', 'access.log');
    let now = Date.UTC(2025, 0, 1, 23, 59, 0);
    const hooks = { count: () => undefined };
    const settings = { path, maxSize: 0, rotateEvery: 3_600_000, maxFiles: 0 };
    const sink = new FileSink('file', settings, buffer, hooks, () => now);
    sink.write('a\n');
    await sink.flush();
    sink.write('b\n');
    await sink.flush();
    now = Date.UTC(2025, 0, 2, 0, 0, 1); // past the hour boundary
    sink.write('c\n');
    await sink.flush();
    await sink.close();
    const files = (await readdir(join(dir, 'time'))).sort();
    assert.deepEqual(files, ['access-20250102T000001.log', 'access.log']);
    assert.equal(await readFile(join(dir, 'time', 'access-20250102T000001.log'), 'utf8'), 'a\nb\n');
    assert.equal(await readFile(path, 'utf8'), 'c\n');

    // Restarted a day later: the file's last write was in an earlier hour, so it is rotated before the new line.
    await utimes(path, new Date(now), new Date(now));
    now = Date.UTC(2025, 0, 3, 12, 0, 0);
    const restarted = new FileSink('file', settings, buffer, hooks, () => now);
    restarted.write('d\n');
    await restarted.close();
    assert.equal(await readFile(path, 'utf8'), 'd\n');
    assert.equal((await readdir(join(dir, 'time'))).length, 3);
  });

  it('is what the accessLog file sink writes through the observability front door', async () => {
    const path = join(dir, 'front', 'access.log');
    const o = observe({ sink: { file: { path } } });
    const t = serve(o);
    await o.close();
    const line = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.equal(line.trace_id, t.traceId);
  });
});

describe('Loki sink', () => {
  let server: Server;
  let url: string;
  let answers: number[] = [];
  const pushes: Array<{ headers: IncomingMessage['headers']; body: { streams: Array<{ stream: Record<string, string>; values: Array<[string, string]> }> } }> = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const status = answers.shift() ?? 204;
        if (status === 204) pushes.push({ headers: req.headers, body: JSON.parse(body) });
        res.writeHead(status).end(status === 204 ? undefined : 'nope');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
  });

  it('pushes batches as one stream with fixed labels and nanosecond timestamps, retrying 5xx with backoff', async () => {
    answers = [503, 503];
    pushes.length = 0;
    const o = observe({ sink: { loki: { url, labels: { job: 'sluice', env: 'test' }, tenant: 'team-a' } }, buffer: { retryBackoff: 5 }, fields: ['trace_id', 'status'] });
    const before = Date.now();
    const traces = [serve(o).traceId, serve(o, { status: 503 }).traceId];
    await o.flush();
    assert.equal(pushes.length, 1);
    const { headers, body } = pushes[0]!;
    assert.equal(headers['x-scope-orgid'], 'team-a');
    assert.deepEqual(body.streams.map((s) => s.stream), [{ instance: 'gw-test', job: 'sluice', env: 'test' }]);
    const values = body.streams[0]!.values;
    assert.deepEqual(values.map(([, line]) => (JSON.parse(line) as { trace_id: string }).trace_id), traces);
    for (const [ns] of values) {
      assert.match(ns, /^\d{19}$/);
      assert.ok(Number(BigInt(ns) / 1_000_000n) >= before - 1);
    }
    assert.equal(await metric(o, /sluice_access_log_records_total\{sink="loki",outcome="written"\} (\d+)/), 2);
    await o.close();
  });

  it('gives up at once on a 4xx (it would fail again) and counts the lines as failed', async () => {
    answers = [400];
    pushes.length = 0;
    const errors: Array<string | undefined> = [];
    const config = observabilitySchema.parse({ tracing: { enabled: false }, metrics: { processMetrics: false }, accessLog: { sink: { loki: { url } } } });
    const o = createObservability(config, { onSinkError: (sink, error) => errors.push(`${sink}: ${error?.message}`) });
    serve(o as ReturnType<typeof observe>);
    await o.flush();
    assert.equal(pushes.length, 0);
    assert.equal(answers.length, 0, 'asked once');
    assert.deepEqual(errors, ['loki: Loki answered 400: nope']);
    assert.match(await o.metrics.render(false), /sluice_access_log_records_total\{sink="loki",outcome="failed"\} 1/);
    await o.close();
  });

  it('gives up after maxRetries and counts the batch as failed', async () => {
    answers = [503, 503, 503];
    pushes.length = 0;
    const o = observe({ sink: { loki: { url } }, buffer: { retryBackoff: 1, maxRetries: 2 } });
    serve(o);
    await o.flush();
    assert.equal(answers.length, 0, 'one try and two retries');
    assert.equal(await metric(o, /sluice_access_log_records_total\{sink="loki",outcome="failed"\} (\d+)/), 1);
    await o.close();
  });
});

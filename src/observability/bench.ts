// Micro-benchmark of observability's per-request cost: startRequest + (one attempt) + end, in CPU ns per request,
// for each level of observability, plus the OpenTelemetry SDK's own span path for comparison.
//   node src/observability/bench.ts [requests=60000] [rounds=3]       (about 6 minutes)
//   node src/observability/bench.ts --encode                          (OTLP encoding alone, seconds)
//   node src/observability/bench.ts --tight                           (startRequest + end in a tight loop, seconds)
// Every scenario runs in a fresh process (no JIT or heap state carried between them), `rounds` times; the median
// is reported, net of the loop itself measured in the same process. Requests arrive at a steady 20k/s (what a
// busy worker sees, not a tight loop that no exporter could follow) and the figure is the process's CPU time per
// request, every thread included, with flushing the sinks and the exporter inside the measurement — so the
// deferred work (encoding, writing, sending) is counted. RequestRecords are prebuilt (the proxy builds its own).
// The OTLP receiver is another process, like a collector.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace, SpanKind, type Tracer } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { observabilitySchema, type ObservabilityInput } from '../config/observability-schema.ts';
import { createObservability } from './index.ts';
import { TraceRequestEncoder } from './otlp-encode.ts';
import { TraceJsonEncoder } from './otlp-json.ts';
import { SluiceSpan, clientSpanAttributes, serverSpanAttributes } from './spans.ts';
import { newSpanId, newTraceId } from './trace-context.ts';
import type { RequestRecord } from './types.ts';

const CHILD = process.argv[2] === '--one';
const REQUESTS = Number((CHILD ? process.argv[7] : process.argv[2]) ?? 60_000);
const ROUNDS = Number(process.argv[3] ?? 3);
/** Requests a second: above what one Sluice worker serves (≈14k/s on the benchmark machine). */
const RATE = 20_000;
const ROUTES = ['users-api', 'orders-api', 'search', 'static'];
const METHODS = ['GET', 'GET', 'GET', 'POST'];
const TARGET = 'http://127.0.0.1:3001';

function statusOf(i: number): number {
  return i % 50 === 0 ? 503 : i % 20 === 0 ? 404 : 200;
}

function record(i: number, start: number): RequestRecord {
  return {
    listener: 'public', route: ROUTES[i & 3], upstream: 'users', target: TARGET, method: METHODS[(i >> 2) & 3]!,
    path: '/api/users/42', status: statusOf(i), errorCode: undefined, clientAddress: '127.0.0.1', requestId: `req-${i}`,
    startTime: start, upstreamStart: start + 0.05, firstByte: start + 0.4, endTime: start + 0.5,
    bytesIn: 0, bytesOut: 512, attempts: 1, userAgent: 'wrk',
  };
}

// The proxy builds its record anyway: the benchmark reuses prebuilt ones so that only observability allocates.
const RECORDS: RequestRecord[] = Array.from({ length: 4096 }, (_, i) => record(i, 1000 + i));

const HEADERS = { host: 'gw:8080', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };

type OneRequest = (i: number) => void;

/**
 * CPU time per request (ns, every thread of the process: main, libuv pool, GC) at RATE requests a second, after
 * `count / 2` requests of warm-up. `settle` (flushing sinks and the exporter) is inside the measurement, so work
 * deferred to timers and I/O is counted too.
 */
async function measure(run: OneRequest, count: number, settle: () => Promise<void> = async () => {}): Promise<number> {
  const loop = async (n: number): Promise<number> => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let done = 0;
    while (done < n) {
      const due = Math.min(n, Math.floor(((performance.now() - t0) * RATE) / 1000) + 1);
      for (; done < due; done++) run(done);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await settle();
    const cpu = process.cpuUsage(cpu0);
    return ((cpu.user + cpu.system) * 1000) / n;
  };
  await loop(Math.ceil(count / 2));
  return loop(count);
}

interface Scenario {
  name: string;
  /** undefined: the OpenTelemetry SDK reference instead of Sluice's observability. */
  input: ((otlp: string, dir: string) => ObservabilityInput) | undefined;
}

const accessLog = (dir: string): ObservabilityInput['accessLog'] => ({ sink: { file: { path: join(dir, 'access.log') } } });
const traced = (ratio: number) => (otlp: string, dir: string): ObservabilityInput => ({
  metrics: { processMetrics: false }, accessLog: accessLog(dir), tracing: { sampler: { ratio, parentBased: false }, otlp: { endpoint: otlp, maxQueueSize: 20_000 } },
});

const SCENARIOS: Scenario[] = [
  { name: 'all off', input: () => ({ metrics: { enabled: false }, tracing: { enabled: false } }) },
  { name: 'metrics only', input: () => ({ metrics: { processMetrics: false }, tracing: { enabled: false } }) },
  { name: 'metrics + JSON access log to a file', input: (_o, dir) => ({ metrics: { processMetrics: false }, tracing: { enabled: false }, accessLog: accessLog(dir) }) },
  { name: 'metrics + access log + tracing 1% (OTLP + trace store)', input: traced(0.01) },
  { name: 'metrics + access log + tracing 100% (OTLP + trace store)', input: traced(1) },
  { name: 'tracing 100% into the trace store alone (no export)', input: () => ({ metrics: { enabled: false }, tracing: { sampler: 'always' } }) },
  { name: 'reference: OTel SDK Tracer, the same spans, no export', input: undefined },
  { name: 'tracing 100% exported alone (no store, no metrics, no log)', input: (otlp) => ({ metrics: { enabled: false }, traceStore: { enabled: false }, tracing: { sampler: 'always', otlp: { endpoint: otlp, maxQueueSize: 20_000 } } }) },
];

/** Child process: one scenario, prints "ns dropped exported". */
async function runOne(index: number, withAttempt: boolean, otlp: string, dir: string): Promise<void> {
  let bytes = 0; // the baseline's records must be used, or the JIT could drop the loop
  const baseline = await measure((i) => {
    bytes += RECORDS[i & 4095]!.bytesOut;
  }, REQUESTS);
  const scenario = SCENARIOS[index]!;
  if (scenario.input === undefined) {
    console.log(`${(await sdkReference(withAttempt)) - baseline} 0 0 ${bytes}`);
    return;
  }
  const observability = createObservability(observabilitySchema.parse(scenario.input(otlp, dir)), { instance: 'bench' });
  const ns = await measure((i) => {
    const r = RECORDS[i & 4095]!;
    const t = observability.startRequest(HEADERS, 'public', r.route);
    if (withAttempt) {
      t.upstreamTraceHeaders(0);
      t.attemptStart(0, TARGET);
      t.attemptEnd(0, r.status, undefined);
    }
    t.end(r);
  }, REQUESTS, () => observability.flush());
  await observability.close();
  const text = await observability.metrics.render(false);
  const spans = (outcome: string): string => new RegExp(`sluice_trace_spans_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? '0';
  console.log(`${ns - baseline} ${spans('dropped')} ${spans('exported')} ${bytes}`);
}

/** Server + client span per request through the SDK's Tracer and BatchSpanProcessor, exporting nowhere. */
async function sdkReference(withAttempt: boolean): Promise<number> {
  const noop: SpanExporter = { export: (_spans: ReadableSpan[], done) => done({ code: 0 }), shutdown: async () => {} };
  const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(noop, { maxQueueSize: 1_000_000, maxExportBatchSize: 512 })] });
  const tracer: Tracer = provider.getTracer('bench');
  const ns = await measure((i) => {
    const r = RECORDS[i & 4095]!;
    const server = tracer.startSpan(`GET ${r.route}`, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET', 'url.path': r.path, 'client.address': r.clientAddress, 'sluice.listener': r.listener,
        'sluice.request_id': r.requestId, 'sluice.route': r.route, 'sluice.upstream': 'users', 'user_agent.original': 'wrk',
        'server.address': 'gw', 'server.port': 8080,
      },
    });
    if (withAttempt) {
      const client = tracer.startSpan('GET users', {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': 3001, 'network.peer.address': '127.0.0.1', 'sluice.route': r.route, 'sluice.upstream': 'users' },
      }, trace.setSpan(context.active(), server));
      client.setAttribute('http.response.status_code', r.status);
      client.end();
    }
    server.setAttribute('http.response.status_code', r.status);
    server.end();
  }, REQUESTS, () => provider.forceFlush());
  await provider.shutdown();
  return ns;
}

async function startReceiver(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', `
    const http = require('node:http');
    const server = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/x-protobuf' }); res.end(); }); });
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', () => reject(new Error('OTLP receiver exited')));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

function runChild(index: number, withAttempt: boolean, otlp: string, dir: string): Promise<number[]> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--one', String(index), String(withAttempt), otlp, dir, String(REQUESTS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(out.trim().split(/\s+/).map(Number)) : reject(new Error(`scenario ${index} exited ${code}`))));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const receiver = await startReceiver();
  const lines = [
    `Sluice observability micro-benchmark, Node ${process.versions.node}: ${REQUESTS} requests per run, median of ${ROUNDS} runs,`,
    `CPU ns per request at ${RATE} requests/s, net of the benchmark loop (min–max of the runs in brackets)`,
  ];
  try {
    for (const withAttempt of [false, true]) {
      lines.push(withAttempt ? '\nstartRequest + upstreamTraceHeaders + attemptStart + attemptEnd + end:' : '\nstartRequest + end:');
      for (let index = 0; index < SCENARIOS.length; index++) {
        const runs: number[][] = [];
        for (let r = 0; r < ROUNDS; r++) runs.push(await runChild(index, withAttempt, receiver.url, dir));
        const ns = runs.map((x) => x[0]!);
        const dropped = runs.reduce((sum, x) => sum + x[1]!, 0);
        const exported = runs.reduce((sum, x) => sum + x[2]!, 0);
        const note = exported + dropped > 0 ? `  spans exported ${exported}, dropped ${dropped}` : '';
        lines.push(`  ${SCENARIOS[index]!.name.padEnd(58)} ${median(ns).toFixed(0).padStart(6)} ns  [${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}]${note}`);
      }
    }
    lines.push('');
    lines.push(...tight());
    lines.push(...encoding());
  } finally {
    receiver.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(lines.join('\n'));
}

/** OTLP protobuf encoding, ns per span: Sluice's encoder against otlp-transformer's, on 512 of Sluice's spans. */
function encoding(): string[] {
  const resource = resourceFromAttributes({ 'service.name': 'sluice', 'service.instance.id': 'bench' });
  const scope = { name: 'sluice', version: '0' };
  const spans: SluiceSpan[] = [];
  for (let i = 0; i < 256; i++) {
    const r = RECORDS[i]!;
    const traceId = newTraceId();
    const server = newSpanId();
    const common = { traceId, sampled: true, traceState: undefined, start: r.startTime, end: r.endTime, error: false, resource, scope };
    spans.push(new SluiceSpan({ ...common, name: `GET ${r.route}`, kind: SpanKind.SERVER, spanId: server, parentSpanId: newSpanId(), parentIsRemote: true, attributes: serverSpanAttributes(r, 'gw:8080', undefined) }));
    spans.push(new SluiceSpan({
      ...common, name: 'GET users', kind: SpanKind.CLIENT, spanId: newSpanId(), parentSpanId: server, parentIsRemote: false,
      attributes: clientSpanAttributes({ attempt: 0, method: r.method, target: TARGET, status: r.status, errorType: undefined, route: r.route, upstream: 'users' }),
    }));
  }
  const ours = new TraceRequestEncoder();
  const json = new TraceJsonEncoder();
  const jsonBuf = Buffer.allocUnsafe(64 * 1024);
  const encoders: Array<[string, () => unknown]> = [
    ['OTLP protobuf encoding, Sluice\'s encoder', () => ours.encode(spans)],
    ['OTLP protobuf encoding, @opentelemetry/otlp-transformer', () => ProtobufTraceSerializer.serializeRequest(spans)],
    ['OTLP JSON encoding, Sluice\'s encoder (span by span)', () => {
      for (const span of spans) {
        json.prepareSpan(span);
        json.writePreparedSpan(jsonBuf, 0);
      }
    }],
    ['OTLP JSON encoding, @opentelemetry/otlp-transformer', () => JsonTraceSerializer.serializeRequest(spans)],
  ];
  const results = encoders.map(() => [] as number[]);
  for (let round = 0; round < 7; round++) {
    encoders.forEach(([, encode], i) => {
      for (let w = 0; w < 20; w++) encode();
      const t0 = process.hrtime.bigint();
      for (let n = 0; n < 50; n++) encode();
      results[i]!.push(Number(process.hrtime.bigint() - t0) / 50 / spans.length);
    });
  }
  return encoders.map(([name], i) => `  ${name.padEnd(58)} ${median(results[i]!).toFixed(0).padStart(6)} ns per span (wall clock, median of 7)`);
}

/**
 * The request path alone, in a tight loop (wall clock, no timers or I/O in between): what startRequest + end
 * cost when metrics are all there is, the contract being well under a microsecond.
 */
function tight(): string[] {
  const lines: string[] = [];
  const scenarios: Array<[string, ObservabilityInput]> = [
    ['all off', { metrics: { enabled: false }, tracing: { enabled: false } }],
    ['metrics only', { metrics: { processMetrics: false }, tracing: { enabled: false } }],
  ];
  for (const withAttempt of [false, true]) {
    for (const [name, input] of scenarios) {
      const observability = createObservability(observabilitySchema.parse(input), { instance: 'bench' });
      const runs: number[] = [];
      for (let round = 0; round < 7; round++) {
        const n = 500_000;
        let sum = 0;
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) sum += RECORDS[i & 4095]!.bytesOut; // the loop alone
        const t1 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          const r = RECORDS[i & 4095]!;
          const t = observability.startRequest(HEADERS, 'public', r.route);
          if (withAttempt) {
            t.upstreamTraceHeaders(0);
            t.attemptStart(0, TARGET);
            t.attemptEnd(0, r.status, undefined);
          }
          t.end(r);
          // end() queues; the gateway finishes a turn's requests together (end-batch.ts): here, every 16.
          // flush() finishes them synchronously before its first await.
          if ((i & 15) === 15) void observability.flush();
        }
        const t2 = process.hrtime.bigint();
        runs.push((Number(t2 - t1) - Number(t1 - t0)) / n + (sum < 0 ? 1 : 0));
      }
      void observability.close();
      const what = withAttempt ? `${name}, with one attempt` : name;
      lines.push(`  ${`tight loop: ${what}`.padEnd(58)} ${median(runs).toFixed(0).padStart(6)} ns per request (wall clock, median of 7)`);
    }
  }
  return lines;
}

if (process.argv[2] === '--encode') {
  console.log(encoding().join('\n'));
} else if (process.argv[2] === '--tight') {
  console.log(tight().join('\n'));
} else if (CHILD) {
  const [, , , index, withAttempt, otlp, dir] = process.argv;
  await runOne(Number(index), withAttempt === 'true', otlp!, dir!);
} else {
  await main();
}

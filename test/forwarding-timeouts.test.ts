// Upstream failures in time and in reachability, each with its stable code: connect failure (502), connect timeout
// (504), no response headers in time (504), total route timeout (504 before headers, a cut connection after), and a
// silent body (cut connection: the client must see a truncated response, never a complete one).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { classifyUpstreamError } from '../src/proxy/upstream-errors.ts';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { listenUpstream, type TestUpstream } from './helpers/upstream.ts';

const WAIT = 5000;

interface Outcome {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The response ended cleanly (false: the connection was cut mid-body). */
  complete: boolean;
  elapsed: number;
}

function get(port: number, path: string): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: WAIT }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      const done = (complete: boolean) => resolve({ status: res.statusCode!, headers: res.headers, body, complete, elapsed: performance.now() - started });
      res.on('end', () => done(res.complete));
      res.on('error', () => done(false));
      res.on('aborted', () => done(false));
    });
    req.on('timeout', () => req.destroy(new Error('no outcome within the test deadline')));
    req.on('error', reject);
  });
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function gatewayFor(targets: string[], route: Record<string, unknown> = {}, upstream: Record<string, unknown> = {}): Promise<TestGateway> {
  const gw = await startGateway(simpleConfig(targets, route, upstream));
  closers.push(() => gw.close());
  return gw;
}

async function upstreamWith(handler: http.RequestListener): Promise<TestUpstream> {
  const up = await listenUpstream(http.createServer(handler));
  closers.push(() => up.close());
  return up;
}

function assertSluiceError(outcome: Outcome, status: number, code: string): void {
  assert.equal(outcome.status, status, outcome.body);
  assert.equal(outcome.headers['x-sluice-error'], code);
  assert.equal(JSON.parse(outcome.body).error.code, code);
  assert.ok(outcome.headers['x-request-id']);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A loopback listener that never accepts: a child process listens with a backlog of 1 and then blocks its only
 * thread. Once the kernel's accept queue is full, further SYNs are dropped, so a connect hangs until its timeout —
 * a connect timeout without leaving the machine.
 */
async function startBlackhole(): Promise<{ port: number; child: ChildProcess; fillers: net.Socket[] }> {
  const script = `
    const server = require('node:net').createServer();
    server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
      process.stdout.write(server.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('blackhole did not start')), WAIT);
    child.stdout!.once('data', (c: Buffer) => {
      clearTimeout(timer);
      resolve(Number(c.toString().trim()));
    });
  });
  // Fill the accept queue: connect until one connection does not complete in 300 ms.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) return { port, child, fillers };
  }
  throw new Error('the accept queue never filled up');
}

describe('connect', () => {
  test('refused → 502 upstream_connect_failed', async () => {
    const gw = await gatewayFor([`http://127.0.0.1:${await closedPort()}`]);
    assertSluiceError(await get(gw.port, '/'), 502, 'upstream_connect_failed');
  });

  describe('a listener whose accept queue is full', () => {
    let blackhole: Awaited<ReturnType<typeof startBlackhole>>;
    before(async () => {
      blackhole = await startBlackhole();
    });
    after(() => {
      for (const s of blackhole?.fillers ?? []) s.destroy();
      blackhole?.child.kill('SIGKILL');
    });

    test('→ 504 upstream_connect_timeout after upstreams[].connectTimeout', async () => {
      const gw = await gatewayFor([`http://127.0.0.1:${blackhole.port}`], {}, { connectTimeout: '300ms' });
      const outcome = await get(gw.port, '/');
      assertSluiceError(outcome, 504, 'upstream_connect_timeout');
      assert.ok(outcome.elapsed >= 250 && outcome.elapsed < 3000, `took ${outcome.elapsed} ms`);
    });
  });

  test('undici errors map to stable codes', () => {
    const cases: Array<[string, string, string]> = [
      ['UND_ERR_CONNECT_TIMEOUT', 'upstream_connect_timeout', 'connect-failure'],
      ['ECONNREFUSED', 'upstream_connect_failed', 'connect-failure'],
      ['ENOTFOUND', 'upstream_connect_failed', 'connect-failure'],
      ['UND_ERR_HEADERS_TIMEOUT', 'upstream_timeout', 'timeout'],
      ['UND_ERR_BODY_TIMEOUT', 'upstream_timeout', 'timeout'],
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'upstream_tls_error', 'connect-failure'],
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'upstream_tls_error', 'connect-failure'],
      ['HPE_INVALID_CONSTANT', 'upstream_bad_response', 'bad-response'],
      ['UND_ERR_SOCKET', 'upstream_reset', 'reset'],
      ['ECONNRESET', 'upstream_reset', 'reset'],
      ['UND_ERR_INVALID_ARG', 'internal_error', 'invalid-request'],
    ];
    for (const [code, want, failure] of cases) {
      assert.deepEqual(classifyUpstreamError(Object.assign(new Error(code), { code })), { code: want, failure }, code);
    }
    // undici 8.12's HTTPParserError carries no code, only its name.
    const parserError = Object.assign(new Error('Response does not match the HTTP/1.1 protocol'), { name: 'HTTPParserError', code: undefined });
    assert.deepEqual(classifyUpstreamError(parserError), { code: 'upstream_bad_response', failure: 'bad-response' });
  });
});

describe('response timing', () => {
  test('no response headers within routes[].responseTimeout → 504 upstream_timeout', async () => {
    const up = await upstreamWith(() => {
      // never answers
    });
    const gw = await gatewayFor([up.url], { responseTimeout: '300ms' });
    const outcome = await get(gw.port, '/');
    assertSluiceError(outcome, 504, 'upstream_timeout');
    assert.ok(outcome.elapsed >= 250 && outcome.elapsed < 3000, `took ${outcome.elapsed} ms`);
  });

  test('silence between body chunks longer than routes[].idleTimeout cuts the client connection', async () => {
    const up = await upstreamWith((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part|'); // then nothing, and no end
    });
    const gw = await gatewayFor([up.url], { idleTimeout: '300ms' });
    const outcome = await get(gw.port, '/');
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body, 'first part|');
    assert.equal(outcome.complete, false, 'a truncated body must not look complete');
    assert.ok(outcome.elapsed >= 250 && outcome.elapsed < 3000, `took ${outcome.elapsed} ms`);
  });

  test('the total routes[].timeout before any header → 504 upstream_timeout', async () => {
    const up = await upstreamWith((_req, res) => {
      setTimeout(() => res.end('late'), 2000).unref();
    });
    const gw = await gatewayFor([up.url], { timeout: '300ms', responseTimeout: '5s' });
    const outcome = await get(gw.port, '/');
    assertSluiceError(outcome, 504, 'upstream_timeout');
    assert.ok(outcome.elapsed >= 250 && outcome.elapsed < 1500, `took ${outcome.elapsed} ms`);
  });

  test('the total routes[].timeout while the body streams cuts the client connection', async () => {
    const up = await upstreamWith((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('tick|'), 50);
      res.on('close', () => clearInterval(timer));
    });
    const gw = await gatewayFor([up.url], { timeout: '400ms', idleTimeout: '5s' });
    const outcome = await get(gw.port, '/');
    assert.equal(outcome.status, 200);
    assert.match(outcome.body, /^(tick\|)+$/);
    assert.equal(outcome.complete, false);
    assert.ok(outcome.elapsed >= 350 && outcome.elapsed < 2000, `took ${outcome.elapsed} ms`);
  });

  test('the total timeout covers a connect that hangs', async () => {
    const blackhole = await startBlackhole();
    try {
      const gw = await gatewayFor([`http://127.0.0.1:${blackhole.port}`], { timeout: '300ms' }, { connectTimeout: '5s' });
      const outcome = await get(gw.port, '/');
      assertSluiceError(outcome, 504, 'upstream_timeout');
      assert.ok(outcome.elapsed < 2000, `took ${outcome.elapsed} ms`);
    } finally {
      for (const s of blackhole.fillers) s.destroy();
      blackhole.child.kill('SIGKILL');
    }
  });
});

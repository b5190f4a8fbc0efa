// routes[].retries end to end: which failures are retried, on which target, how many times; and what is never
// retried (a request with a body, a status nobody asked to retry).
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(port: number, path = '/', method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function upstream(name: string, handler?: Parameters<typeof startUpstream>[1]): Promise<TestUpstream> {
  const up = await startUpstream(name, handler);
  closers.push(() => up.close());
  return up;
}

/** Always answers `status` with its name as the body. */
function answering(name: string, status: number): Promise<TestUpstream> {
  return upstream(name, (_req, res) => {
    res.writeHead(status, { 'x-upstream': name });
    res.end(name);
  });
}

async function gatewayFor(targets: string[], route: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startGateway(simpleConfig(targets, route));
  closers.push(() => gw.close());
  return gw;
}

async function closedUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('retries', () => {
  test('on connect-failure: a refused target is retried on another one', async () => {
    const up = await answering('up', 200);
    const gw = await gatewayFor([await closedUrl(), up.url], { retries: { attempts: 1, on: ['connect-failure'] } });
    for (let i = 0; i < 4; i++) {
      const res = await send(gw.port);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, 'up');
    }
    assert.equal(up.received.length, 4);
  });

  test('without retries a refused target is a 502', async () => {
    const up = await answering('up', 200);
    const gw = await gatewayFor([await closedUrl(), up.url], {});
    const first = await send(gw.port); // round-robin starts with the closed one
    assert.equal(first.status, 502);
    assert.equal(first.headers['x-sluice-error'], 'upstream_connect_failed');
  });

  test('on 503: the answer is dropped and the request tried again elsewhere', async () => {
    const busy = await answering('busy', 503);
    const ok = await answering('ok', 200);
    const gw = await gatewayFor([busy.url, ok.url], { retries: { attempts: 1, on: [503] } });
    for (let i = 0; i < 4; i++) {
      const res = await send(gw.port);
      assert.equal(res.status, 200);
      assert.equal(res.body, 'ok', 'nothing of the dropped 503 reaches the client');
    }
    assert.ok(busy.received.length >= 1);
    assert.equal(ok.received.length, 4);
  });

  test('attempts are respected, and the last answer is relayed', async () => {
    const a = await answering('a', 503);
    const b = await answering('b', 503);
    const gw = await gatewayFor([a.url, b.url], { retries: { attempts: 2, on: [503] } });
    const res = await send(gw.port);
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-sluice-error'], undefined, "the upstream's own 503, not one of Sluice's");
    assert.equal(a.received.length + b.received.length, 3, 'one try and two retries');
  });

  test('5xx is not retried unless configured', async () => {
    const a = await answering('a', 503);
    const b = await answering('b', 200);
    const gw = await gatewayFor([a.url, b.url], { retries: { attempts: 3, on: ['connect-failure'] } });
    const res = await send(gw.port);
    assert.equal(res.status, 503);
    assert.equal(a.received.length + b.received.length, 1);
    const plain = await gatewayFor([a.url, b.url], {});
    assert.equal((await send(plain.port)).status, 503);
  });

  test('a POST answered 503 is not retried: it is not idempotent and the route did not opt in', async () => {
    const a = await answering('a', 503);
    const b = await answering('b', 200);
    const gw = await gatewayFor([a.url, b.url], { retries: { attempts: 2, on: [503, 'connect-failure'] } });
    const res = await send(gw.port, '/', 'POST', 'payload');
    assert.equal(res.status, 503);
    assert.equal(a.received.length, 1);
    assert.equal(a.received[0]!.body.toString(), 'payload');
    assert.equal(b.received.length, 0);
  });

  test('a POST whose connection was refused is retried with its buffered body: it never reached an upstream', async () => {
    const up = await answering('up', 200);
    const refused = await gatewayFor([await closedUrl(), up.url], { retries: { attempts: 2, on: ['connect-failure'] } });
    const res = await send(refused.port, '/', 'POST', 'payload');
    assert.equal(res.status, 200);
    assert.equal(up.received.length, 1);
    assert.equal(up.received[0]!.body.toString(), 'payload');
  });

  test('a POST is retried on 503 when the route opts in with retryNonIdempotent', async () => {
    const a = await answering('a', 503);
    const b = await answering('b', 200);
    const gw = await gatewayFor([a.url, b.url], { retries: { attempts: 1, on: [503], retryNonIdempotent: true } });
    const res = await send(gw.port, '/', 'POST', 'payload');
    assert.equal(res.status, 200);
    assert.equal(b.received[0]!.body.toString(), 'payload');
  });

  test('on reset: an upstream that drops the connection before answering is retried', async () => {
    const dropping = await upstream('drop', (req) => req.socket.destroy());
    const ok = await answering('ok', 200);
    const gw = await gatewayFor([dropping.url, ok.url], { retries: { attempts: 1, on: ['reset'] } });
    const res = await send(gw.port);
    assert.equal(res.status, 200);
    assert.equal(dropping.received.length, 1);
  });

  test('perTryTimeout: a hanging try is abandoned for another target', async () => {
    const hanging = await upstream('hang', () => {
      // never answers
    });
    const ok = await answering('ok', 200);
    const gw = await gatewayFor([hanging.url, ok.url], { retries: { attempts: 1, on: ['gateway-error'], perTryTimeout: '300ms' } });
    const res = await send(gw.port);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    assert.equal(hanging.received.length, 1);
  });
});

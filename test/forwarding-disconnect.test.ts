// A client that goes away takes its upstream request with it: mid-response, mid-request-body and while waiting for
// the answer, the upstream sees its request socket closed within a bounded time, and the target's in-flight count
// returns to zero (least-request reads it).
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { listenUpstream } from './helpers/upstream.ts';

const WAIT = 3000;

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** An upstream that runs `handler` and reports, per request, when it saw the request and when its socket closed. */
async function watchedUpstream(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  let onRequest!: (req: http.IncomingMessage) => void;
  let onClose!: () => void;
  const requested = new Promise<http.IncomingMessage>((resolve) => (onRequest = resolve));
  const closed = new Promise<void>((resolve) => (onClose = resolve));
  const server = http.createServer((req, res) => {
    req.socket.once('close', onClose);
    onRequest(req);
    handler(req, res);
  });
  const up = await listenUpstream(server);
  closers.push(() => up.close());
  return { up, requested, closed };
}

async function gatewayFor(url: string): Promise<TestGateway> {
  const gw = await startGateway(simpleConfig([url]));
  closers.push(() => gw.close());
  return gw;
}

function inFlight(gw: TestGateway): number {
  return gw.gateway.current.upstreams.get('app')!.targets[0]!.inFlight;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('client disconnects', () => {
  test('mid-response: the upstream request is aborted', async () => {
    const { up, requested, closed } = await watchedUpstream((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('x'.repeat(1024)), 20);
      res.on('close', () => clearInterval(timer));
    });
    const gw = await gatewayFor(up.url);
    const client = net.connect(gw.port, '127.0.0.1');
    client.on('error', () => {});
    client.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
    await bounded(new Promise((resolve) => client.once('data', resolve)), 'the first bytes');
    await bounded(requested, 'the upstream request');
    client.destroy();
    await bounded(closed, 'the upstream socket to close');
    await eventually(() => inFlight(gw) === 0, 'in-flight back to 0');
  });

  const bodies = [
    { desc: 'chunked', head: 'Transfer-Encoding: chunked', first: '5\r\nhello\r\n', route: {} },
    { desc: 'with Content-Length', head: 'Content-Length: 100', first: 'hello', route: {} },
    { desc: 'chunked, counted against maxBodySize', head: 'Transfer-Encoding: chunked', first: '5\r\nhello\r\n', route: { maxBodySize: '1MiB' } },
  ];
  for (const body of bodies) {
    test(`mid-request-body (${body.desc}): the upstream request is aborted`, async () => {
      let bodyBytes = 0;
      const { up, requested, closed } = await watchedUpstream((req) => {
        req.on('data', (c: Buffer) => (bodyBytes += c.length));
        req.on('error', () => {});
      });
      const gw = await startGateway(simpleConfig([up.url], body.route));
      closers.push(() => gw.close());
      const client = net.connect(gw.port, '127.0.0.1');
      client.on('error', () => {});
      client.write(`POST /upload HTTP/1.1\r\nHost: a\r\n${body.head}\r\n\r\n${body.first}`);
      await bounded(requested, 'the upstream request');
      await eventually(() => bodyBytes === 5, 'the first body chunk upstream');
      client.destroy();
      await bounded(closed, 'the upstream socket to close');
      await eventually(() => inFlight(gw) === 0, 'in-flight back to 0');
    });
  }

  test('while waiting for the response head: the upstream request is aborted', async () => {
    const { up, requested, closed } = await watchedUpstream(() => {
      // thinks forever
    });
    const gw = await gatewayFor(up.url);
    const client = net.connect(gw.port, '127.0.0.1');
    client.on('error', () => {});
    client.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await bounded(requested, 'the upstream request');
    client.destroy();
    await bounded(closed, 'the upstream socket to close');
    await eventually(() => inFlight(gw) === 0, 'in-flight back to 0');
  });
});

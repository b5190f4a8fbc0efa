// Response framing through Sluice: trailers, 1xx interim answers (103 Early Hints), HEAD with Content-Length, and
// 204/304 without a body — each checked on the wire, followed by a second request on the same client connection
// to prove the framing left it usable.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type UpstreamHandler } from './helpers/upstream.ts';

const WAIT = 3000;

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function setup(handler: UpstreamHandler): Promise<TestGateway> {
  const up = await startUpstream('up', handler);
  closers.push(() => up.close());
  const gw = await startGateway(simpleConfig([up.url]));
  closers.push(() => gw.close());
  return gw;
}

/** An upstream that answers each request head with the bytes `answer(path)` returns. */
async function rawSetup(answer: (path: string) => string): Promise<TestGateway> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const path = buffered.slice(0, end).split(' ')[1]!;
        buffered = buffered.slice(end + 4);
        socket.write(answer(path));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const gw = await startGateway(simpleConfig([`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`]));
  closers.push(() => gw.close());
  return gw;
}

/** Sends raw requests on one connection and waits until `done` says the received text is complete. */
async function exchange(port: number, bytes: string, done: (text: string) => boolean): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', () => {});
  socket.write(bytes);
  const deadline = Date.now() + WAIT;
  while (!done(text)) {
    if (Date.now() > deadline || socket.destroyed) {
      socket.destroy();
      throw new Error(`incomplete exchange: ${JSON.stringify(text)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  socket.destroy();
  return text;
}

/** Splits "HTTP/1.1 …" responses on the wire (heads only; bodies are asserted on the text). */
function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n/g)].map((m) => m[1]!);
}

describe('response framing', () => {
  test('trailers from the upstream reach the client', async () => {
    const gw = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'X-Checksum' });
      res.write('part one|');
      res.write('part two');
      res.addTrailers({ 'x-checksum': 'abc123', 'x-rows': '2' });
      res.end();
    });
    const received = await new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: gw.port, path: '/', agent: false, timeout: WAIT }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ body, trailers: res.trailers }));
        })
        .on('error', reject);
    });
    assert.equal(received.body, 'part one|part two');
    assert.equal(received.trailers['x-checksum'], 'abc123');
    assert.equal(received.trailers['x-rows'], '2');
  });

  test('103 Early Hints is relayed and the final response follows intact', async () => {
    const gw = await setup((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('final');
      });
    });
    const hints: http.IncomingHttpHeaders[] = [];
    const final = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/', agent: false, timeout: WAIT }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('information', (info) => hints.push(info.headers));
      req.on('error', reject);
    });
    assert.equal(final.status, 200);
    assert.equal(final.body, 'final');
    assert.equal(hints.length, 1);
    assert.match(String(hints[0]!.link), /<\/style\.css>; rel=preload/);
  });

  test('an interim answer an HTTP/1.0 client cannot understand is not sent to it', async () => {
    const gw = await setup((_req, res) => {
      res.writeEarlyHints({ link: '</a.css>; rel=preload' }, () => res.end('final'));
    });
    const text = await exchange(gw.port, 'GET / HTTP/1.0\r\nHost: a\r\n\r\n', (t) => t.endsWith('final'));
    assert.deepEqual(statusLines(text), ['200']);
  });

  test('HEAD keeps the Content-Length and sends no body; the connection stays usable', async () => {
    const gw = await setup((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1234' });
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
    });
    const text = await exchange(gw.port, 'HEAD /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n', (t) =>
      t.endsWith('x'.repeat(1234)),
    );
    assert.deepEqual(statusLines(text), ['200', '200']);
    const [head, rest] = [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)];
    assert.match(head, /\r\ncontent-length: 1234/i);
    assert.match(rest, /^HTTP\/1\.1 200 /, 'the HEAD response carried no body');
  });

  for (const status of [204, 304]) {
    test(`${status} has no body, even when the upstream declares a length; the connection stays usable`, async () => {
      // Raw, because node:http would tidy the upstream's head: "Content-Length: 5" on a bodiless status.
      const gw = await rawSetup((path) =>
        path === '/next'
          ? 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext'
          : `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\netag: "v1"\r\ncontent-length: 5\r\n\r\n`,
      );
      const text = await exchange(gw.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('next'));
      assert.deepEqual(statusLines(text), [String(status), '200']);
      const first = text.slice(0, text.indexOf('HTTP/1.1 200'));
      assert.ok(first.endsWith('\r\n\r\n'), `no body after the ${status} head: ${JSON.stringify(first)}`);
      assert.doesNotMatch(first, /transfer-encoding/i);
      assert.match(first, /\r\netag: "v1"/i);
      // RFC 9110 §8.6: never a Content-Length on a 204.
      if (status === 204) assert.doesNotMatch(first, /content-length/i);
    });
  }

  test('a Content-Length response keeps its length; a chunked one stays chunked', async () => {
    const gw = await setup((req, res) => {
      if (req.url === '/fixed') {
        res.writeHead(200, { 'content-length': '5' });
        res.end('fixed');
      } else {
        res.write('chu');
        res.end('nked');
      }
    });
    const text = await exchange(gw.port, 'GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET /chunked HTTP/1.1\r\nHost: a\r\n\r\n', (t) =>
      t.endsWith('0\r\n\r\n'),
    );
    const [fixed, chunked] = text.split(/(?=HTTP\/1\.1 )/);
    assert.match(fixed!, /\r\ncontent-length: 5\r\n[^]*\r\n\r\nfixed$/i);
    assert.match(chunked!, /\r\ntransfer-encoding: chunked\r\n/i);
    assert.doesNotMatch(chunked!, /\r\ncontent-length:/i);
  });
});

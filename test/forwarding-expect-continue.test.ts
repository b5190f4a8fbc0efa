// Expect: 100-continue (RFC 9110 §10.1.1): the client hears "100 Continue" only once Sluice has routed the request
// and checked its limits; a request that will be refused is refused before the body is sent. The upstream never
// sees Expect: Sluice has already answered it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { simpleConfig, startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type TestUpstream } from './helpers/upstream.ts';

const WAIT = 3000;

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function setup(route: Record<string, unknown> = {}): Promise<{ up: TestUpstream; gw: TestGateway }> {
  const up = await startUpstream('up', (_req, res, body) => res.end(`got ${body.length}: ${body}`));
  closers.push(() => up.close());
  const gw = await startGateway(simpleConfig([up.url], { match: { pathPrefix: '/in' }, ...route }));
  closers.push(() => gw.close());
  return { up, gw };
}

/** A raw connection that accumulates what it receives and waits for patterns with a deadline. */
function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  socket.on('error', () => {});
  return {
    socket,
    get text() {
      return text;
    },
    async waitFor(pattern: RegExp): Promise<void> {
      const deadline = Date.now() + WAIT;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  };
}

describe('Expect: 100-continue', () => {
  test('routed: 100 Continue, then the body is forwarded; the upstream never sees Expect', async () => {
    const { up, gw } = await setup();
    const conn = connect(gw.port);
    conn.socket.write('POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await conn.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.equal(up.received.length, 0, 'nothing is forwarded complete before the body came');
    conn.socket.write('hello');
    await conn.waitFor(/HTTP\/1\.1 200 [^]*got 5: hello$/);
    conn.socket.destroy();
    assert.equal(up.received[0]!.headers.expect, undefined);
    assert.equal(up.received[0]!.body.toString(), 'hello');
  });

  test('chunked body after 100 Continue', async () => {
    const { up, gw } = await setup();
    const conn = connect(gw.port);
    conn.socket.write('POST /in HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n');
    await conn.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    conn.socket.write('3\r\nabc\r\n0\r\n\r\n');
    await conn.waitFor(/got 3: abc$/);
    conn.socket.destroy();
    assert.equal(up.received[0]!.headers.expect, undefined);
  });

  test('no route: 404 straight away, never 100 Continue', async () => {
    const { up, gw } = await setup();
    const conn = connect(gw.port);
    conn.socket.write('POST /out HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await conn.waitFor(/\r\n\r\n\{"error":\{"code":"route_not_found"[^]*\}\}$/);
    assert.match(conn.text, /^HTTP\/1\.1 404 /);
    assert.doesNotMatch(conn.text, /100 Continue/);
    // node:http closes here (the client might send the body anyway), which RFC 9110 §10.1.1 allows if announced.
    assert.match(conn.text, /\r\nconnection: close\r\n/i);
    conn.socket.destroy();
    assert.equal(up.received.length, 0);
  });

  test('a declared body over maxBodySize: 413 straight away, never 100 Continue', async () => {
    const { up, gw } = await setup({ maxBodySize: '10B' });
    const conn = connect(gw.port);
    conn.socket.write('POST /in HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n');
    await conn.waitFor(/"code":"payload_too_large"[^]*\}\}$/);
    assert.match(conn.text, /^HTTP\/1\.1 413 /);
    assert.match(conn.text, /\r\nx-sluice-error: payload_too_large\r\n/);
    assert.doesNotMatch(conn.text, /100 Continue/);
    conn.socket.destroy();
    assert.equal(up.received.length, 0);
  });
});

// Upgrade requests (WebSocket and any other protocol): the handshake goes through, then bytes flow both ways,
// including the ones that arrive glued to either handshake; refusals are relayed, unroutable upgrades get 404.
// The WebSocket server is a minimal RFC 6455 one written here over node:http's 'upgrade' event.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createListenerServer } from '../src/proxy/listener.ts';
import { closeTunnels } from '../src/proxy/upgrade.ts';
import { Snapshot } from '../src/snapshot/snapshot.ts';
import { UpstreamRegistry } from '../src/upstream/registry.ts';
import { simpleConfig, startGateway, testConfig, type TestGateway } from './helpers/gateway.ts';
import { rawRequest } from './helpers/raw-client.ts';
import { listenUpstream, type TestUpstream } from './helpers/upstream.ts';

const WAIT = 5000;
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §5.2: one unfragmented text frame, server to client (unmasked, payload < 126 bytes). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/** Reads one masked client frame (payload < 126 bytes) from the start of `buf`; undefined until it is complete. */
function readClientFrame(buf: Buffer): { opcode: number; text: string; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const length = buf[1]! & 0x7f;
  if (buf.length < 6 + length) return undefined;
  const mask = buf.subarray(2, 6);
  const payload = Buffer.from(buf.subarray(6, 6 + length));
  for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return { opcode: buf[0]! & 0x0f, text: payload.toString(), rest: buf.subarray(6 + length) };
}

interface WsUpstream extends TestUpstream {
  /** Resolves with each upstream-side socket as it is upgraded. */
  sockets: Duplex[];
  /** The request heads the upstream received for upgrades. */
  upgrades: http.IncomingMessage[];
}

/** Echoes every text frame back prefixed with "echo:", and greets first with "hello". */
async function startWsUpstream(): Promise<WsUpstream> {
  const sockets: Duplex[] = [];
  const upgrades: http.IncomingMessage[] = [];
  const server = http.createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push(req);
    sockets.push(socket);
    socket.on('error', () => socket.destroy());
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nx-why: policy\r\n\r\nno way');
      return;
    }
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      // Any other protocol: switch, then echo raw bytes, starting with whatever came with the request.
      const echo = (c: Buffer) => socket.write(Buffer.concat([Buffer.from('got:'), c]));
      if (req.url === '/ws/slow') {
        // Answer late, so the client's first bytes reach Sluice before the 101 does.
        setTimeout(() => {
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${req.headers.upgrade}\r\n\r\n`);
          if (head.length > 0) echo(head);
          socket.on('data', echo);
        }, 300);
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${req.headers.upgrade}\r\n\r\nSERVER-FIRST|`);
      echo(head);
      socket.on('data', echo);
      return;
    }
    const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + WS_GUID).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\nx-upstream: ws\r\n\r\n`,
    );
    socket.write(textFrame('hello'));
    let buffered = head;
    const onBytes = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let frame = readClientFrame(buffered); frame; frame = readClientFrame(buffered)) {
        buffered = frame.rest;
        if (frame.opcode === 0x8) {
          socket.end(Buffer.from([0x88, 0])); // RFC 6455 §5.5.1: answer a close with a close
          return;
        }
        socket.write(textFrame(`echo:${frame.text}`));
      }
    };
    onBytes(Buffer.alloc(0));
    socket.on('data', onBytes);
  });
  const up = await listenUpstream(server);
  return Object.assign(up, {
    sockets,
    upgrades,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function setup(route: Record<string, unknown> = {}): Promise<{ up: WsUpstream; gw: TestGateway }> {
  const up = await startWsUpstream();
  closers.push(() => up.close());
  const gw = await startGateway(simpleConfig([up.url], { match: { pathPrefix: '/ws' }, ...route }));
  closers.push(() => gw.close());
  return { up, gw };
}

function bounded<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A raw socket that collects what it receives and can wait for a pattern. */
function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => {});
  return {
    socket,
    get received() {
      return received;
    },
    async waitFor(pattern: RegExp | string, what = String(pattern)): Promise<string> {
      const matches = () => (typeof pattern === 'string' ? received.includes(pattern) : pattern.test(received));
      while (!matches()) {
        if (socket.destroyed) throw new Error(`connection closed before ${what}; got ${JSON.stringify(received)}`);
        await bounded(new Promise<void>((resolve) => {
          waiters.push(resolve);
          socket.once('close', resolve);
        }), `${what}; got ${JSON.stringify(received)}`);
      }
      return received;
    },
  };
}

describe('WebSocket through Sluice', () => {
  test('a WebSocket client talks to the upstream in both directions', async () => {
    const { up, gw } = await setup();
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws/chat?room=1`);
    const messages: string[] = [];
    let wake: (() => void) | undefined;
    ws.addEventListener('message', (e) => {
      messages.push(String(e.data));
      wake?.();
    });
    const arrived = (n: number) =>
      bounded(
        new Promise<void>((resolve, reject) => {
          wake = () => messages.length >= n && resolve();
          ws.addEventListener('error', () => reject(new Error('websocket error')), { once: true });
          wake();
        }),
        `${n} messages`,
      );
    await bounded(once(ws, 'open'), 'open');
    await arrived(1);
    ws.send('ping');
    await arrived(2);
    assert.deepEqual(messages, ['hello', 'echo:ping']);
    assert.equal(up.upgrades[0]!.url, '/ws/chat?room=1');
    assert.equal(up.upgrades[0]!.headers['x-forwarded-for'], '127.0.0.1');
    assert.ok(up.upgrades[0]!.headers['x-request-id']);
    const closed = once(ws, 'close');
    ws.close();
    await bounded(closed, 'close');
  });

  test('the bytes sent with the upgrade request and with the 101 answer are not lost', async () => {
    const { gw } = await setup();
    const conn = rawConnection(gw.port);
    // Request head and first payload in one write: node:http hands them over as `head`.
    conn.socket.write('GET /ws/raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\nCLIENT-FIRST');
    await conn.waitFor('got:CLIENT-FIRST', 'the client bytes echoed');
    assert.match(conn.received, /^HTTP\/1\.1 101 /);
    assert.match(conn.received, /\r\n\r\nSERVER-FIRST\|/);
    conn.socket.write('more');
    await conn.waitFor('got:more', 'a later echo');
    conn.socket.destroy();
  });

  test('bytes the client sends before the 101 arrives are not lost', async () => {
    const { gw } = await setup();
    const conn = rawConnection(gw.port);
    conn.socket.write('GET /ws/slow HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n');
    setTimeout(() => conn.socket.write('EARLY'), 50);
    await conn.waitFor('got:EARLY', 'the early bytes echoed');
    assert.match(conn.received, /^HTTP\/1\.1 101 /);
    conn.socket.destroy();
  });

  test("a tunnel outlives the listener's request and keep-alive timeouts", async () => {
    const up = await startWsUpstream();
    closers.push(() => up.close());
    const gw = await startGateway({
      ...simpleConfig([up.url]),
      listeners: [{ name: 'short', address: '127.0.0.1:0', limits: { headersTimeout: '300ms', requestTimeout: '400ms', keepAliveTimeout: '200ms' } }],
    });
    closers.push(() => gw.close());
    const conn = rawConnection(gw.port);
    conn.socket.write('GET /ws/raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n');
    await conn.waitFor('SERVER-FIRST');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    conn.socket.write('still-there');
    await conn.waitFor('got:still-there', 'an echo after the timeouts passed');
    conn.socket.destroy();
  });

  test('closing the client closes the upstream side, and the other way round', async () => {
    const { up, gw } = await setup();
    const conn = rawConnection(gw.port);
    conn.socket.write('GET /ws/raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n');
    await conn.waitFor('SERVER-FIRST');
    const upstreamSide = up.sockets[0]!;
    // node:http sockets allow half-open connections: the upstream sees the end; it need not close its side.
    const upstreamClosed = Promise.race([once(upstreamSide, 'end'), once(upstreamSide, 'close')]);
    conn.socket.destroy();
    await bounded(upstreamClosed, 'the upstream socket to close');

    const second = rawConnection(gw.port);
    second.socket.write('GET /ws/raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n');
    await second.waitFor('SERVER-FIRST');
    const clientClosed = once(second.socket, 'close');
    up.sockets[1]!.destroy();
    await bounded(clientClosed, 'the client socket to close');
  });

  test('a client gone while its upgrade waited for a pooled connection does not leave a tunnel open upstream', async () => {
    const up = await startWsUpstream();
    closers.push(() => up.close());
    let release!: () => void;
    const slowDone = new Promise<void>((resolve) => (release = resolve));
    up.server.removeAllListeners('request');
    up.server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => void slowDone.then(() => res.end('done')));
    // One connection per target: the upgrade queues behind /busy inside the pool.
    const gw = await startGateway(simpleConfig([up.url], {}, { connections: 1 }));
    closers.push(() => gw.close());
    const busy = rawConnection(gw.port);
    busy.socket.write('GET /busy HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const client = rawConnection(gw.port);
    client.socket.write('GET /ws/raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await busy.waitFor('done');
    busy.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(up.upgrades.length, 0, 'the upgrade of a client that is gone is not sent');
    assert.equal(gw.gateway.current.upstreams.get('app')!.targets[0]!.inFlight, 0);
  });

  test('consistent hashing places an upgrade where the same key places plain requests', async () => {
    const a = await startWsUpstream();
    const b = await startWsUpstream();
    closers.push(() => a.close(), () => b.close());
    for (const [up, name] of [[a, 'a'], [b, 'b']] as const) {
      up.server.removeAllListeners('request');
      up.server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.end(name));
    }
    const gw = await startGateway(simpleConfig([a.url, b.url], {}, { loadBalancer: 'consistent-hash', hashOn: { header: 'x-user' } }));
    closers.push(() => gw.close());
    // Ports change per run and so does the table: try keys until both targets were seen (and at least 8 keys).
    for (let i = 0; i < 8 || a.upgrades.length === 0 || b.upgrades.length === 0; i++) {
      assert.ok(i < 64, 'no key out of 64 reached one of the targets');
      const user = `user-${i}`;
      const plain = await rawRequest(gw.port, `GET /ws/x HTTP/1.1\r\nHost: a\r\nX-User: ${user}\r\n\r\n`, { responses: 1, timeout: WAIT });
      const owner = plain.text.endsWith('\r\n\r\na') ? a : b;
      const before = owner.upgrades.length;
      const conn = rawConnection(gw.port);
      conn.socket.write(`GET /ws/raw HTTP/1.1\r\nHost: a\r\nX-User: ${user}\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n`);
      await conn.waitFor('SERVER-FIRST');
      conn.socket.destroy();
      assert.equal(owner.upgrades.length, before + 1, `${user}: the upgrade went to the other target`);
    }
    assert.ok(a.upgrades.length > 0 && b.upgrades.length > 0, 'keys spread over both targets');
  });

  test('closeTunnels ends the open tunnels of a listener server (node:http no longer tracks them)', async () => {
    const up = await startWsUpstream();
    closers.push(() => up.close());
    const config = testConfig(simpleConfig([up.url]));
    const snapshot = new Snapshot(1, config, new UpstreamRegistry());
    const server = createListenerServer({ current: snapshot }, config.listeners[0]!);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const upstream of snapshot.upstreams.values()) for (const t of upstream.targets) await t.pool.destroy();
    });
    const conn = rawConnection((server.address() as net.AddressInfo).port);
    conn.socket.write('GET /ws/raw HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x-echo/1\r\n\r\n');
    await conn.waitFor('SERVER-FIRST');
    server.closeAllConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(conn.socket.destroyed, false, 'closeAllConnections does not see the tunnel');
    const upstreamSide = up.sockets[0]!;
    const bothClosed = Promise.all([
      once(conn.socket, 'close'),
      Promise.race([once(upstreamSide, 'end'), once(upstreamSide, 'close')]),
    ]);
    assert.equal(closeTunnels(server), 1);
    await bounded(bothClosed, 'both sides of the tunnel to close');
    assert.equal(closeTunnels(server), 0);
  });

  test('an upstream that refuses the upgrade is relayed as is', async () => {
    const { gw } = await setup();
    const res = await rawRequest(
      gw.port,
      'GET /refuse HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      { timeout: WAIT },
    );
    // /refuse is outside /ws: routed by a second gateway below; here it must be a 404 from Sluice.
    assert.equal(res.status, 404);
    const { gw: open } = await setup({ match: { pathPrefix: '/' } });
    const refused = await rawRequest(
      open.port,
      'GET /refuse HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      { timeout: WAIT },
    );
    assert.equal(refused.status, 403);
    assert.match(refused.text, /\r\nx-why: policy\r\n/i);
    assert.ok(refused.text.endsWith('\r\n\r\nno way'), JSON.stringify(refused.text));
    assert.ok(refused.closed);
  });

  test('an upgrade no route matches gets a 404 from Sluice, with the request id', async () => {
    const { gw } = await setup();
    const res = await rawRequest(
      gw.port,
      'GET /elsewhere HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Request-Id: up-404\r\n\r\n',
      { timeout: WAIT },
    );
    assert.equal(res.status, 404);
    assert.match(res.text, /\r\nx-sluice-error: route_not_found\r\n/);
    assert.match(res.text, /\r\nx-request-id: up-404\r\n/);
    assert.match(res.text, /"requestId":"up-404"/);
    assert.ok(res.closed);
  });

  test('an upgrade to an upstream that is down gets 502 with a stable code', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const gw = await startGateway(simpleConfig([`http://127.0.0.1:${port}`]));
    closers.push(() => gw.close());
    const res = await rawRequest(gw.port, 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', { timeout: WAIT });
    assert.equal(res.status, 502);
    assert.match(res.text, /\r\nx-sluice-error: upstream_connect_failed\r\n/);
    assert.match(res.text, /\r\nx-request-id: [0-9a-f-]{36}\r\n/);
  });
});

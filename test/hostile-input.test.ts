// Hostile and malformed requests over a raw socket: ambiguous framing, smuggling shapes, bad syntax, oversized
// and slow requests, traversal. For each refusal: the status, the catalogue code in x-sluice-error and the JSON
// body, whether the connection closes (always when framing is in doubt), and that the upstream saw nothing — no
// complete request, no request bytes and no new connection.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { rawRequest, type RawResponse } from './helpers/raw-client.ts';
import { listenUpstream, startUpstream, type TestUpstream } from './helpers/upstream.ts';

const HEADERS_TIMEOUT = 500;
const REQUEST_TIMEOUT = 1500;
const MAX_URL = 1024;
const MAX_HEADER_SIZE = 4096;
const MAX_HEADERS = 20;
const MAX_BODY = 100;
/** Absence can only be observed over a window: how long a refused request gets to (wrongly) reach the upstream. */
const QUIET_MS = 50;

let upstream: TestUpstream;
/** Answers at once with a head and a first body chunk, then streams nothing more: a response in progress. */
let earlyUpstream: TestUpstream;
let gw: TestGateway;
/** Per test: connections the upstream accepted, request bytes it read, and whether each connection closed. */
let upstreamSockets: { bytes: number; closed: Promise<void> }[] = [];
let upstreamBytes = 0;

before(async () => {
  upstream = await startUpstream('up');
  upstream.server.on('connection', (socket: net.Socket) => {
    const tracked = { bytes: 0, closed: new Promise<void>((resolve) => socket.once('close', () => resolve())) };
    upstreamSockets.push(tracked);
    socket.on('data', (chunk: Buffer) => {
      tracked.bytes += chunk.length;
      upstreamBytes += chunk.length;
    });
  });
  earlyUpstream = await listenUpstream(http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
  }));
  gw = await startGateway({
    listeners: [{
      name: 'test',
      address: '127.0.0.1:0',
      limits: {
        maxHeaderSize: MAX_HEADER_SIZE, maxUrlLength: MAX_URL, maxHeaders: MAX_HEADERS,
        headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT,
      },
    }],
    upstreams: [{ name: 'app', targets: [{ url: upstream.url }] }, { name: 'early', targets: [{ url: earlyUpstream.url }] }],
    // Only /api is exposed; the upstream's /admin must stay out of reach.
    routes: [
      { name: 'api', match: { pathPrefix: '/api' }, upstream: 'app', maxBodySize: MAX_BODY },
      { name: 'early', match: { pathPrefix: '/early' }, upstream: 'early' },
    ],
  });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  await earlyUpstream?.close();
});

beforeEach(() => {
  upstream.received.length = 0;
  upstreamSockets = [];
  upstreamBytes = 0;
});

const H = 'Host: sluice.test\r\n';

interface Refusal {
  desc: string;
  send: string | Buffer;
  status: number;
  /** The catalogue code Sluice answers with. */
  code: string;
  /** The connection must close (framing in doubt); false: the answer keeps it open. */
  close: boolean;
}

function headOf(text: string): string {
  const end = text.indexOf('\r\n\r\n');
  return end < 0 ? text : text.slice(0, end + 2);
}

function headerOf(text: string, name: string): string | undefined {
  return new RegExp(`\\r\\n${name}: *([^\\r]*)\\r\\n`, 'i').exec(headOf(text))?.[1];
}

/** Sends the bytes and waits for the close (or, for a kept connection, for the one answer). */
function send(bytes: string | Buffer, close: boolean): Promise<RawResponse> {
  return rawRequest(gw.port, bytes, close ? { timeout: 3000 } : { timeout: 3000, responses: 1 });
}

function assertAnswer(res: RawResponse, c: Omit<Refusal, 'send'>): void {
  const where = `${c.desc}: ${JSON.stringify(res.text.slice(0, 300))}`;
  assert.equal(res.status, c.status, where);
  assert.equal(headerOf(res.text, 'x-sluice-error'), c.code, where);
  const body = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
  assert.equal(body.error.code, c.code, where);
  if (c.close) {
    assert.equal(headerOf(res.text, 'connection'), 'close', where);
    assert.ok(res.closed, `${where}: connection left open`);
  } else {
    assert.notEqual(headerOf(res.text, 'connection'), 'close', where);
  }
}

async function assertNothingForwarded(desc: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
  assert.equal(upstream.received.length, 0, `${desc}: upstream received a request`);
  assert.equal(upstreamSockets.length, 0, `${desc}: upstream got a connection`);
  assert.equal(upstreamBytes, 0, `${desc}: upstream read request bytes`);
}

function runRefusals(cases: Refusal[]): void {
  for (const c of cases) {
    it(c.desc, async () => {
      const res = await send(c.send, c.close);
      assertAnswer(res, c);
      await assertNothingForwarded(c.desc);
    });
  }
}

const chunked = '5\r\nhello\r\n0\r\n\r\n';
const post = (headers: string, body = chunked, version = '1.1') => `POST /api/x HTTP/${version}\r\n${H}${headers}\r\n${body}`;
const bad = (desc: string, sendBytes: string | Buffer): Refusal => ({ desc, send: sendBytes, status: 400, code: 'bad_request', close: true });

describe('a valid request still goes through (controls for the refusals below)', () => {
  const accepted = [
    { desc: 'plain GET', send: `GET /api/ok HTTP/1.1\r\n${H}\r\n`, body: '' },
    { desc: 'chunked body', send: post('Transfer-Encoding: chunked\r\n'), body: 'hello' },
    // RFC 9110 §5.5: OWS around a field value is not part of it; RFC 9112 §7: coding names are case-insensitive.
    { desc: 'Transfer-Encoding with spaces around "chunked"', send: post('Transfer-Encoding:   chunked  \r\n'), body: 'hello' },
    { desc: 'Transfer-Encoding with a tab before "chunked"', send: post('Transfer-Encoding:\tchunked\r\n'), body: 'hello' },
    { desc: 'Transfer-Encoding: CHUNKED', send: post('Transfer-Encoding: CHUNKED\r\n'), body: 'hello' },
    { desc: 'Content-Length body', send: post('Content-Length: 5\r\n', 'hello'), body: 'hello' },
    { desc: 'HTTP/1.0 without Host', send: 'GET /api/ok HTTP/1.0\r\n\r\n', body: '' },
    { desc: 'empty Host (RFC 9112 §3.2 allows it)', send: 'GET /api/ok HTTP/1.1\r\nHost:\r\n\r\n', body: '' },
    { desc: 'a leading empty line (RFC 9112 §2.2)', send: `\r\nGET /api/ok HTTP/1.1\r\n${H}\r\n`, body: '' },
  ];
  for (const c of accepted) {
    it(c.desc, async () => {
      const res = await rawRequest(gw.port, c.send, { timeout: 3000, responses: 1 });
      assert.equal(res.status, 200, `${c.desc}: ${JSON.stringify(res.text.slice(0, 300))}`);
      assert.equal(upstream.received.length, 1);
      assert.equal(upstream.received[0]!.body.toString(), c.body);
    });
  }
});

describe('ambiguous message framing is refused and the connection closed (RFC 9112 §6.1, §6.3, §11.2)', () => {
  runRefusals([
    bad('Content-Length together with Transfer-Encoding', post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n')),
    bad('Transfer-Encoding together with Content-Length', post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n')),
    bad('two differing Content-Length fields', post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!')),
    bad('two equal Content-Length fields', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello')),
    bad('a Content-Length list "5, 6"', post('Content-Length: 5, 6\r\n', 'hello!')),
    bad('a signed Content-Length "+5"', post('Content-Length: +5\r\n', 'hello')),
    bad('a hexadecimal Content-Length', post('Content-Length: 0x5\r\n', 'hello')),
    bad('a Content-Length beyond 2^64', post('Content-Length: 99999999999999999999999\r\n', 'hello')),
    bad('Transfer-Encoding: xchunked', post('Transfer-Encoding: xchunked\r\n')),
    bad('Transfer-Encoding: chunkedx', post('Transfer-Encoding: chunkedx\r\n')),
    bad('Transfer-Encoding: chunked, identity', post('Transfer-Encoding: chunked, identity\r\n')),
    bad('Transfer-Encoding: identity, chunked', post('Transfer-Encoding: identity, chunked\r\n')),
    bad('Transfer-Encoding: gzip, chunked (a coding Sluice does not decode)', post('Transfer-Encoding: gzip, chunked\r\n')),
    bad('Transfer-Encoding: identity', post('Transfer-Encoding: identity\r\n', 'hello')),
    bad('Transfer-Encoding: chunked;x=1 (parameters)', post('Transfer-Encoding: chunked;x=1\r\n')),
    bad('an empty Transfer-Encoding', post('Transfer-Encoding:\r\n', 'hello')),
    bad('a vertical tab before "chunked"', post('Transfer-Encoding:\x0bchunked\r\n')),
    bad('a space before the colon (RFC 9112 §5.1)', post('Transfer-Encoding : chunked\r\n')),
    bad('two Transfer-Encoding fields, both chunked', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n')),
    bad('two Transfer-Encoding fields, identity then chunked', post('Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n')),
    bad('two Transfer-Encoding fields, chunked then identity', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n')),
    bad('Transfer-Encoding in an HTTP/1.0 request', post('Transfer-Encoding: chunked\r\n', chunked, '1.0')),
    bad('Transfer-Encoding and Content-Length in an HTTP/1.0 request', post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', 'hello', '1.0')),
  ]);
});

describe('request smuggling attempts reach nobody (RFC 9112 §11.2)', () => {
  const smuggled = `GET /api/smuggled HTTP/1.1\r\n${H}\r\n`;
  runRefusals([
    // A front end reading Content-Length forwards the whole thing; one reading chunked sees a second request.
    bad('CL.TE', post(`Content-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n`, `0\r\n\r\n${smuggled}`)),
    // A front end reading chunked forwards it all; one reading Content-Length stops early and sees the rest.
    bad('TE.CL', post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`)),
    // One hop ignores the coding it does not know, the other does not.
    bad('TE.TE with an unknown second field', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\n', `0\r\n\r\n${smuggled}`)),
    bad('TE.TE with an unknown first field', post('Transfer-Encoding: cow\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${smuggled}`)),
    bad('TE.TE with an unknown coding listed first', post('Transfer-Encoding: cow, chunked\r\n', `0\r\n\r\n${smuggled}`)),
  ]);
});

describe('malformed header syntax is refused and the connection closed (RFC 9112 §2.2, §5)', () => {
  const get = (fields: string) => `GET /api/x HTTP/1.1\r\n${H}${fields}\r\n`;
  runRefusals([
    bad('bare LF line endings', `GET /api/x HTTP/1.1\n${H.trimEnd()}\nX: y\n\n`),
    bad('a bare LF inside the header block', get('X: y\nZ: w\r\n')),
    bad('a bare CR inside a field value', get('X: y\rZ: w\r\n')),
    bad('a bare CR before the line end', get('X: y\r\r\n')),
    bad('obsolete line folding (RFC 9112 §5.2)', get('X: y\r\n  folded\r\n')),
    bad('a space in a field name', get('X Y: z\r\n')),
    bad('a "(" in a field name', get('X(Y: z\r\n')),
    bad('a NUL in a field name', get('X\x00Y: z\r\n')),
    bad('a non-ASCII byte in a field name', Buffer.from(get('X\xffY: z\r\n'), 'latin1')),
    bad('an empty field name', get(': z\r\n')),
    bad('a NUL in a field value', get('X: a\x00b\r\n')),
    bad('a control character in a field value', get('X: a\x01b\r\n')),
    bad('DEL in a field value', get('X: a\x7fb\r\n')),
  ]);
});

describe('Host is required, single and valid (RFC 9112 §3.2)', () => {
  runRefusals([
    bad('no Host on HTTP/1.1', 'GET /api/x HTTP/1.1\r\n\r\n'),
    bad('two Host fields', 'GET /api/x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n'),
    bad('a space inside Host', 'GET /api/x HTTP/1.1\r\nHost: a b\r\n\r\n'),
    bad('a path inside Host', 'GET /api/x HTTP/1.1\r\nHost: a.test/admin\r\n\r\n'),
    bad('userinfo inside Host', 'GET /api/x HTTP/1.1\r\nHost: user@a.test\r\n\r\n'),
    bad('an upgrade request without Host', 'GET /api/ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'),
  ]);
});

describe('a broken request line is refused (RFC 9112 §3)', () => {
  runRefusals([
    bad('an HTTP/0.9 request line', 'GET /api/x\r\n\r\n'),
    bad('a request line of garbage', 'HELLO\r\n\r\n'),
    bad('a TLS ClientHello on the plain port', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 13, 10, 13, 10])),
    bad('HTTP/2.0 in an HTTP/1 request line', `GET /api/x HTTP/2.0\r\n${H}\r\n`),
    bad('HTTP/1.2', `GET /api/x HTTP/1.2\r\n${H}\r\n`),
    bad('a lower-case protocol name', `GET /api/x http/1.1\r\n${H}\r\n`),
    bad('a NUL in the URL', `GET /api/a\x00b HTTP/1.1\r\n${H}\r\n`),
    bad('a space in the URL', `GET /api/a b HTTP/1.1\r\n${H}\r\n`),
    bad('a DEL in the URL', `GET /api/a\x7fb HTTP/1.1\r\n${H}\r\n`),
    bad('a method with "@"', `G@T /api/x HTTP/1.1\r\n${H}\r\n`),
    bad('a lower-case method', `get /api/x HTTP/1.1\r\n${H}\r\n`),
    bad('a NUL in the method', `GE\x00T /api/x HTTP/1.1\r\n${H}\r\n`),
    // llhttp only knows a fixed list of methods: an extension method is refused too (see the report on this).
    bad('an unknown method', `FOO /api/x HTTP/1.1\r\n${H}\r\n`),
    bad('CONNECT (Sluice offers no tunnels)', `CONNECT sluice.test:443 HTTP/1.1\r\n${H}\r\n`),
  ]);
});

describe('request targets that cannot be routed safely are refused', () => {
  const target = (t: string) => `GET ${t} HTTP/1.1\r\n${H}\r\n`;
  // No body, so framing is not in doubt: these answers keep the connection.
  const refuse = (desc: string, t: string): Refusal => ({ desc, send: target(t), status: 400, code: 'bad_request', close: false });
  runRefusals([
    refuse('an encoded NUL in the path', '/api/a%00b'),
    refuse('a dot-segment behind an encoded slash', '/api/..%2fadmin'),
    refuse('a dot-segment behind an encoded slash, all encoded', '/api/%2e%2e%2Fadmin'),
    refuse('a dot-segment behind an encoded backslash', '/api/..%5cadmin'),
    refuse('a dot-segment behind a backslash', '/api\\..\\admin'),
    refuse('a dot-segment behind a ";param" (Tomcat-style "..;")', '/api/..;/admin'),
    refuse('absolute-form with another scheme', 'ftp://sluice.test/api/x'),
    refuse('absolute-form with userinfo', 'http://user:pw@sluice.test/api/x'),
    refuse('absolute-form without a host', 'http:///api/x'),
    refuse('asterisk-form outside OPTIONS', '*'),
  ]);
});

describe('path traversal is normalised before routing: /api cannot be left for /admin', () => {
  const cases = [
    { desc: '"/api/../admin" is /admin, which no route serves', target: '/api/../admin', status: 404, upstreamPath: null },
    { desc: '"/api/%2e%2e/admin" is /admin too', target: '/api/%2e%2e/admin', status: 404, upstreamPath: null },
    { desc: '"/api/%2E./admin" mixes encodings', target: '/api/%2E./admin', status: 404, upstreamPath: null },
    { desc: '"/api/./../admin"', target: '/api/./../admin', status: 404, upstreamPath: null },
    { desc: 'a dot-segment that stays inside /api', target: '/api/x/../y?q=1', status: 200, upstreamPath: '/api/y?q=1' },
    { desc: 'an encoded dot-segment that stays inside /api', target: '/api/x/%2e%2e/y', status: 200, upstreamPath: '/api/y' },
    { desc: '".." above the root stays at the root', target: '/../api/x', status: 200, upstreamPath: '/api/x' },
    { desc: 'a single-dot segment is dropped', target: '/api/./x', status: 200, upstreamPath: '/api/x' },
    { desc: 'an encoded slash without dots is forwarded untouched', target: '/api/a%2Fb', status: 200, upstreamPath: '/api/a%2Fb' },
    { desc: 'dots inside a segment are not dot-segments', target: '/api/a..b/...', status: 200, upstreamPath: '/api/a..b/...' },
  ];
  for (const c of cases) {
    it(c.desc, async () => {
      const res = await send(`GET ${c.target} HTTP/1.1\r\n${H}\r\n`, false);
      assert.equal(res.status, c.status, JSON.stringify(res.text.slice(0, 300)));
      if (c.upstreamPath === null) {
        assert.equal(headerOf(res.text, 'x-sluice-error'), 'route_not_found');
        await assertNothingForwarded(c.desc);
      } else {
        assert.deepEqual(upstream.received.map((r) => r.url), [c.upstreamPath]);
      }
    });
  }
});

describe('absolute-form targets (RFC 9112 §3.2.2)', () => {
  it('forwards origin-form upstream, with the target\'s authority as Host', async () => {
    const res = await send(`GET http://other.test:8080/api/abs?q=1 HTTP/1.1\r\n${H}\r\n`, false);
    assert.equal(res.status, 200, res.text);
    assert.equal(upstream.received.length, 1);
    const got = upstream.received[0]!;
    assert.equal(got.url, '/api/abs?q=1');
    assert.equal(got.headers.host, 'other.test:8080');
    assert.equal(got.headers['x-forwarded-host'], 'other.test:8080');
  });

  it('accepts the scheme in any case and normalises the path like origin-form', async () => {
    const res = await send(`GET HTTP://other.test/api/x/../y HTTP/1.1\r\n${H}\r\n`, false);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(upstream.received.map((r) => r.url), ['/api/y']);
  });

  it('cannot leave /api through the path either', async () => {
    const res = await send(`GET http://sluice.test/api/../admin HTTP/1.1\r\n${H}\r\n`, false);
    assertAnswer(res, { desc: 'absolute-form traversal', status: 404, code: 'route_not_found', close: false });
    await assertNothingForwarded('absolute-form traversal');
  });
});

describe('invalid chunked bodies are refused and never reach the upstream complete', () => {
  // node:http emits the request when its head is parsed, so the route runs and the upstream pool may connect
  // before llhttp reaches the bad chunk: the answer is the parser's 400 (no request id), and whatever valid
  // chunks came before the bad one have been streamed upstream — that request is then cut, never completed.
  const cases = [
    { desc: 'a non-hex chunk size', body: 'g\r\nhello\r\n0\r\n\r\n', upstreamSees: 'nothing' },
    { desc: 'a negative chunk size', body: '-1\r\nhello\r\n0\r\n\r\n', upstreamSees: 'nothing' },
    { desc: 'a "0x" prefixed chunk size', body: '0x5\r\nhello\r\n0\r\n\r\n', upstreamSees: 'nothing' },
    { desc: 'a chunk size beyond 2^64', body: 'fffffffffffffffff1\r\nhello\r\n0\r\n\r\n', upstreamSees: 'nothing' },
    { desc: 'a space after the chunk size', body: '5 \r\nhello\r\n0\r\n\r\n', upstreamSees: 'nothing' },
    { desc: 'bare LF after the chunk size', body: '5\nhello\n0\n\n', upstreamSees: 'nothing' },
    { desc: 'chunk data longer than its size', body: '3\r\nhello\r\n0\r\n\r\n', upstreamSees: 'a cut request' },
    { desc: 'an invalid second chunk size', body: '5\r\nhello\r\nzz\r\n0\r\n\r\n', upstreamSees: 'a cut request' },
    { desc: 'a smuggled request after a bad last chunk', body: `0\r\nX\r\nGET /api/smuggled HTTP/1.1\r\n${H}\r\n`, upstreamSees: 'a cut request' },
  ];
  for (const c of cases) {
    it(`${c.desc}: 400, closed, the upstream sees ${c.upstreamSees}`, async () => {
      const res = await send(post('Transfer-Encoding: chunked\r\n', c.body), true);
      assert.equal(res.status, 400, res.text);
      assert.equal(headerOf(res.text, 'x-sluice-error'), 'bad_request');
      assert.equal(headerOf(res.text, 'connection'), 'close');
      assert.ok(res.closed);
      if (c.upstreamSees === 'nothing') {
        await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
        assert.equal(upstreamBytes, 0, 'no request bytes before the first valid chunk');
      } else {
        await allUpstreamConnectionsClosed();
      }
      assert.equal(upstream.received.length, 0, 'the upstream must never see a complete request');
    });
  }
});

describe('requests pipelined behind a refusal are never acted on (RFC 9112 §9.6)', () => {
  const next = `GET /api/pipelined HTTP/1.1\r\n${H}\r\n`;
  const cases = [
    { desc: 'behind a Transfer-Encoding Sluice refuses', send: post('Transfer-Encoding: cow, chunked\r\n', `0\r\n\r\n${next}`), status: 400 },
    { desc: 'behind an HTTP/1.0 request with Transfer-Encoding', send: post('Transfer-Encoding: chunked\r\n', `0\r\n\r\n${next}`, '1.0'), status: 400 },
    { desc: 'behind a request with two Host fields', send: `GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${next}`, status: 400 },
    { desc: 'behind a body refused for its size', send: post(`Content-Length: ${MAX_BODY + 1}\r\n`, `${'x'.repeat(MAX_BODY + 1)}${next}`), status: 413 },
    { desc: 'behind a body for a path no route serves', send: `POST /elsewhere HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello${next}`, status: 404 },
    { desc: 'behind a request that asked to close', send: `GET /elsewhere HTTP/1.1\r\n${H}Connection: close\r\n\r\n${next}`, status: 404 },
  ];
  for (const c of cases) {
    it(c.desc, async () => {
      const res = await send(c.send, true);
      assert.equal(res.status, c.status, res.text);
      assert.equal((res.text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, `one answer only: ${res.text}`);
      assert.ok(res.closed);
      await assertNothingForwarded(c.desc);
    });
  }
});

describe('limits on the request head', () => {
  const longUrl = (length: number) => `/api/${'a'.repeat(length - 5)}`;
  runRefusals([
    {
      desc: 'a header block over maxHeaderSize gets 431',
      send: `GET /api/x HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(MAX_HEADER_SIZE)}\r\n\r\n`,
      status: 431, code: 'header_fields_too_large', close: true,
    },
    {
      desc: 'one field name longer than maxHeaderSize, never finished, gets 431',
      send: `GET /api/x HTTP/1.1\r\n${H}X${'a'.repeat(MAX_HEADER_SIZE)}`,
      status: 431, code: 'header_fields_too_large', close: true,
    },
    {
      desc: 'more than maxHeaders fields gets 431',
      send: `GET /api/x HTTP/1.1\r\n${H}${Array.from({ length: MAX_HEADERS + 5 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`,
      status: 431, code: 'header_fields_too_large', close: true,
    },
    {
      desc: 'more than maxHeaders fields hiding a Transfer-Encoding past the limit gets 431',
      send: post(`${Array.from({ length: MAX_HEADERS + 5 }, (_, i) => `X-${i}: y\r\n`).join('')}Transfer-Encoding: cow, chunked\r\n`),
      status: 431, code: 'header_fields_too_large', close: true,
    },
    {
      desc: 'a URL between maxUrlLength and maxHeaderSize gets 414',
      send: `GET ${longUrl(MAX_URL + 1)} HTTP/1.1\r\n${H}\r\n`,
      status: 414, code: 'uri_too_long', close: false,
    },
    {
      desc: 'a URL beyond maxHeaderSize gets 414 from the parser',
      send: `GET ${longUrl(MAX_HEADER_SIZE + 100)} HTTP/1.1\r\n${H}\r\n`,
      status: 414, code: 'uri_too_long', close: true,
    },
    {
      desc: 'a URL beyond maxHeaderSize, still being sent, gets 414',
      send: `GET ${longUrl(MAX_HEADER_SIZE + 100)}`,
      status: 414, code: 'uri_too_long', close: true,
    },
  ]);

  it('a URL of exactly maxUrlLength is accepted', async () => {
    const res = await send(`GET ${longUrl(MAX_URL)} HTTP/1.1\r\n${H}\r\n`, false);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(upstream.received.length, 1);
  });
});

describe('slow clients', () => {
  it(`headers trickled for longer than headersTimeout get 408 and a closed connection`, async () => {
    const started = Date.now();
    const res = await trickle(gw.port, `GET /api/x HTTP/1.1\r\n${H}X-Slow: ${'a'.repeat(100)}\r\n\r\n`, 50);
    assertAnswer(res, { desc: 'trickled headers', status: 408, code: 'request_timeout', close: true });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= HEADERS_TIMEOUT - 50 && elapsed < HEADERS_TIMEOUT + 1000, `answered after ${elapsed} ms`);
    await assertNothingForwarded('trickled headers');
  });

  it('a body slower than requestTimeout gets 408, and the upstream request is cut short', async () => {
    const res = await rawRequest(gw.port, post('Content-Length: 10\r\n', 'hello'), {
      timeout: REQUEST_TIMEOUT + 2000,
      then: { delay: REQUEST_TIMEOUT + 1000, bytes: 'world' },
    });
    assertAnswer(res, { desc: 'slow body', status: 408, code: 'request_timeout', close: true });
    await allUpstreamConnectionsClosed();
    assert.equal(upstream.received.length, 0, 'the upstream must never see a complete request');
  });

  it('a body slower than requestTimeout while the response streams gets a cut connection, no 408 spliced in', async () => {
    const res = await rawRequest(gw.port, `POST /early/x HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nhello`, {
      timeout: REQUEST_TIMEOUT + 2000,
    });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.closed, 'the connection must be cut');
    assert.doesNotMatch(res.text, /HTTP\/1\.1 408|request_timeout/, 'a 408 was written into the middle of the response');
    assert.match(res.text, /\r\n\r\n7\r\npartial\r\n$/, 'the chunked response stops without its last chunk');
  });
});

describe('request bodies over the route\'s maxBodySize', () => {
  it('a Content-Length over the limit gets 413 before any body is sent', async () => {
    // Only the head is sent: the answer arriving at all shows the body was not waited for.
    const res = await send(`POST /api/x HTTP/1.1\r\n${H}Content-Length: ${MAX_BODY + 1}\r\n\r\n`, true);
    assertAnswer(res, { desc: 'Content-Length over the limit', status: 413, code: 'payload_too_large', close: true });
    await assertNothingForwarded('Content-Length over the limit');
  });

  it('a chunked body over the limit gets 413 or a cut connection, never a complete upstream request', async () => {
    const body = `${(MAX_BODY * 2).toString(16)}\r\n${'x'.repeat(MAX_BODY * 2)}\r\n0\r\n\r\n`;
    const res = await send(post('Transfer-Encoding: chunked\r\n', body), true);
    assert.ok(res.closed);
    if (res.status !== 0) assertAnswer(res, { desc: 'chunked over the limit', status: 413, code: 'payload_too_large', close: true });
    await allUpstreamConnectionsClosed();
    assert.equal(upstream.received.length, 0);
  });
});

describe('Expect (RFC 9110 §10.1.1)', () => {
  it('100-continue with a Content-Length over the limit gets 413 without a 100, and closes', async () => {
    const res = await send(`POST /api/x HTTP/1.1\r\n${H}Content-Length: ${MAX_BODY * 10}\r\nExpect: 100-continue\r\n\r\n`, true);
    assert.doesNotMatch(res.text, /^HTTP\/1\.1 100/);
    // Whether the client sends the body after a refusal is up to the client: the connection cannot be reused.
    assertAnswer(res, { desc: 'Expect over the limit', status: 413, code: 'payload_too_large', close: true });
    await assertNothingForwarded('Expect over the limit');
  });

  it('100-continue for a path no route serves gets 404 without a 100, and closes', async () => {
    const res = await send(`POST /elsewhere HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`, true);
    assert.doesNotMatch(res.text, /^HTTP\/1\.1 100/);
    assertAnswer(res, { desc: 'Expect without route', status: 404, code: 'route_not_found', close: true });
    await assertNothingForwarded('Expect without route');
  });

  it('100-continue within the limit gets 100, then the upstream\'s answer', async () => {
    const res = await rawRequest(gw.port, `POST /api/x HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`, {
      timeout: 3000,
      responses: 2,
      then: { delay: 50, bytes: 'hello' },
    });
    assert.match(res.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.equal(upstream.received[0]?.body.toString(), 'hello');
  });

  const unknownExpect = `POST /api/x HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: fancy\r\n\r\nhello`;
  it('an unknown expectation gets 417 and nothing is forwarded', async () => {
    const res = await send(unknownExpect, false);
    assert.equal(res.status, 417, res.text);
    await assertNothingForwarded('unknown Expect');
  });

  it('an unknown expectation is answered from the catalogue', async () => {
    const res = await send(unknownExpect, true);
    // Answered before the body was read: whether the client sends it now is its call, so the connection closes.
    assertAnswer(res, { desc: 'unknown Expect', status: 417, code: 'expectation_failed', close: true });
  });
});

/** Waits (bounded) until every connection the upstream accepted during this test has closed. */
async function allUpstreamConnectionsClosed(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('an upstream connection was left open')), 2000);
  });
  try {
    await Promise.race([Promise.all(upstreamSockets.map((s) => s.closed)), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `bytes` one at a time every `everyMs`, until the server answers or closes (bounded). */
function trickle(port: number, bytes: string, everyMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let sent = 0;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearInterval(drip);
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ text, status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), closed });
    };
    const drip = setInterval(() => {
      if (sent < bytes.length && socket.writable) socket.write(bytes[sent++]!);
    }, everyMs);
    const timer = setTimeout(() => finish(false), HEADERS_TIMEOUT + 3000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? finish(true) : reject(err)));
  });
}

// Malformed answers from an upstream, written byte for byte by a raw TCP server: Sluice answers 502 with the
// catalogue code and passes nothing of them through; a body cut short reaches the client as a cut connection,
// never as a complete response.
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { rawRequest, type RawResponse } from './helpers/raw-client.ts';

/** What the raw upstream does with the next request: write these bytes and close, or (null) close at once. */
let answer: string | null = null;
let upstream: net.Server;
let gw: TestGateway;

before(async () => {
  upstream = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('data', () => (answer === null ? socket.destroy() : socket.end(answer)));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  gw = await startGateway({
    upstreams: [{ name: 'raw', targets: [{ url: `http://127.0.0.1:${port}` }] }],
    routes: [{ name: 'all', upstream: 'raw', responseTimeout: '2s' }],
  });
});

after(async () => {
  await gw?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

async function ask(bytes: string | null): Promise<RawResponse> {
  answer = bytes;
  return rawRequest(gw.port, 'GET /thing HTTP/1.1\r\nHost: sluice.test\r\n\r\n', { timeout: 4000, responses: 1 });
}

function headOf(text: string): string {
  const end = text.indexOf('\r\n\r\n');
  return end < 0 ? text : text.slice(0, end + 2);
}

// Every malformed answer carries these markers; none may reach the client.
const LEAK = 'X-Leak: yes\r\n';
const LEAK_BODY = 'LEAKED';

const malformed = [
  { desc: 'an invalid status line', bytes: `HTTP/1.1 2OO OK\r\n${LEAK}Content-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a status code of four digits', bytes: `HTTP/1.1 1000 OK\r\n${LEAK}Content-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'something that is not HTTP', bytes: `${LEAK_BODY} hello\r\n\r\n`, code: 'upstream_bad_response' },
  { desc: 'both Content-Length and Transfer-Encoding', bytes: `HTTP/1.1 200 OK\r\n${LEAK}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n${LEAK_BODY}\r\n0\r\n\r\n`, code: 'upstream_bad_response' },
  { desc: 'two differing Content-Length fields', bytes: `HTTP/1.1 200 OK\r\n${LEAK}Content-Length: 6\r\nContent-Length: 7\r\n\r\n${LEAK_BODY}!`, code: 'upstream_bad_response' },
  { desc: 'a Content-Length list "6, 7"', bytes: `HTTP/1.1 200 OK\r\n${LEAK}Content-Length: 6, 7\r\n\r\n${LEAK_BODY}!`, code: 'upstream_bad_response' },
  { desc: 'a space in a header name', bytes: `HTTP/1.1 200 OK\r\n${LEAK}X Bad: z\r\nContent-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a "(" in a header name', bytes: `HTTP/1.1 200 OK\r\n${LEAK}X(Bad: z\r\nContent-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a space before a header colon', bytes: `HTTP/1.1 200 OK\r\n${LEAK}Content-Length : 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a NUL in a header value', bytes: `HTTP/1.1 200 OK\r\n${LEAK}X-Bad: a\x00b\r\nContent-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a control character in a header value', bytes: `HTTP/1.1 200 OK\r\n${LEAK}X-Bad: a\x01b\r\nContent-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a bare CR in a header value', bytes: `HTTP/1.1 200 OK\r\n${LEAK}X-Bad: a\rb\r\nContent-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'obsolete line folding', bytes: `HTTP/1.1 200 OK\r\n${LEAK}X-Bad: a\r\n b\r\nContent-Length: 6\r\n\r\n${LEAK_BODY}`, code: 'upstream_bad_response' },
  { desc: 'a close before any byte', bytes: null, code: 'upstream_reset' },
  { desc: 'an empty answer (FIN at once)', bytes: '', code: 'upstream_reset' },
  { desc: 'a close in the middle of the head', bytes: `HTTP/1.1 200 OK\r\n${LEAK}Content-Le`, code: 'upstream_reset' },
];

describe('a malformed upstream response is answered 502 and never passed through', () => {
  for (const c of malformed) {
    it(`${c.desc}: 502, nothing of it reaches the client`, async () => {
      const res = await ask(c.bytes);
      assert.equal(res.status, 502, JSON.stringify(res.text));
      assert.doesNotMatch(res.text, /x-leak|LEAKED/i);
      const body = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
      assert.match(body.error.code, /^upstream_/);
    });
    it(`${c.desc}: x-sluice-error ${c.code}`, async () => {
      const res = await ask(c.bytes);
      assert.match(headOf(res.text), new RegExp(`\\r\\nx-sluice-error: ${c.code}\\r\\n`));
      const body = JSON.parse(res.text.slice(res.text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
      assert.equal(body.error.code, c.code);
    });
  }
});

describe('an upstream body cut short reaches the client as a cut connection, never as a complete response', () => {
  const cut = [
    { desc: 'a body shorter than its Content-Length', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort' },
    { desc: 'a chunked body without its last chunk', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nshort\r\n' },
    { desc: 'a chunked body with an invalid chunk size', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nshort\r\nzz\r\nmore\r\n0\r\n\r\n' },
  ];
  for (const c of cut) {
    it(c.desc, async () => {
      answer = c.bytes;
      // Wait for the close, not for one response: a complete-looking response must not arrive at all.
      const res = await rawRequest(gw.port, 'GET /thing HTTP/1.1\r\nHost: sluice.test\r\n\r\n', { timeout: 4000 });
      assert.ok(res.closed, `the connection must be cut: ${JSON.stringify(res.text)}`);
      assert.ok(!isCompleteResponse(res.text), `a complete response reached the client: ${JSON.stringify(res.text)}`);
    });
  }
});

/** A response whose head arrived and whose body is complete by its own framing (Content-Length or chunked). */
function isCompleteResponse(text: string): boolean {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const head = text.slice(0, headEnd);
  const body = text.slice(headEnd + 4);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) return body.length >= Number(length[1]);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) return /(^|\r\n)0\r\n\r\n$/.test(body);
  return false;
}

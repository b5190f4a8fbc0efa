// One listening socket: a node:http server configured from the listener's limits, with the request, 100-continue,
// upgrade and client-error paths wired to the proxy. This is the parse/limits phase: parser-level rejections (bad
// framing, oversized heads, slow clients) and the head checks llhttp leaves to us (route-request.ts) are answered
// here with the catalogue's codes, and the connection is closed: framing is in doubt.
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenerConfig } from '../config/schema.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import { createRequestHandler, type SnapshotSource } from './handle-request.ts';
import { incomingRequestId, requestHeadError } from './route-request.ts';
import { sendError, sendRawError } from './send-error.ts';
import { createUpgradeHandler } from './upgrade.ts';

export interface ParsedAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8080" / "[::1]:8080" / ":8080" → host and port ("" host = all interfaces). */
export function parseAddress(address: string): ParsedAddress {
  const colon = address.lastIndexOf(':');
  let host = address.slice(0, colon);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}

export function createListenerServer(source: SnapshotSource, listener: ListenerConfig): http.Server {
  const { limits } = listener;
  const requestTimeout = limits.requestTimeout;
  const headersTimeout = requestTimeout > 0 ? Math.min(limits.headersTimeout, requestTimeout) : limits.headersTimeout;
  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderSize,
    requestTimeout,
    headersTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    // Node checks header/request deadlines on this interval; its 30 s default would let slow clients linger.
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 4))),
    // Host is checked in requestHeadError, which answers with the catalogue; Node's own 400 carries no code.
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    noDelay: true,
  });
  // Node silently drops fields past maxHeadersCount; one more than the limit lets requestHeadError see the overflow.
  server.maxHeadersCount = limits.maxHeaders + 1;
  const handleRequest = createRequestHandler(source, listener, 'http');
  const handleUpgrade = createUpgradeHandler(source, listener, 'http');

  // Connections whose answer said "close". Node keeps parsing and emitting requests pipelined behind that
  // answer (in a smuggling attempt, the smuggled one); RFC 9112 §9.6: the server MUST NOT process them.
  const closing = new WeakSet<Socket>();

  function onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    const socket = req.socket;
    if (closing.has(socket)) return; // never answered: the connection closes after the earlier response
    const refused = requestHeadError(req, limits.maxHeaders);
    if (refused === undefined) {
      handleRequest(req, res, expectsContinue);
    } else {
      const requestIdHeader = source.current.requestIdHeader;
      const requestId = incomingRequestId(req.headers[requestIdHeader]) ?? randomUUID();
      sendError(res, refused, requestId, { close: true, requestIdHeader });
    }
    if (!res.shouldKeepAlive) closing.add(socket);
  }
  server.on('request', onRequest);
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, true));
  // An Expect other than 100-continue: answer 417 in the catalogue format (Node's own answer has no body or code).
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestIdHeader = source.current.requestIdHeader;
    const requestId = incomingRequestId(req.headers[requestIdHeader]) ?? randomUUID();
    sendError(res, 'expectation_failed', requestId, { close: true, requestIdHeader }); // the body may follow regardless
    if (!res.shouldKeepAlive) closing.add(req.socket);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refused = requestHeadError(req, limits.maxHeaders);
    if (refused === undefined) return handleUpgrade(req, socket, head);
    sendRawError(socket as Socket, refused);
  });
  // CONNECT (authority-form, RFC 9112 §3.2.3) asks for a tunnel, which Sluice does not offer. Without a listener
  // Node drops the socket silently; answer instead.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => sendRawError(socket as Socket, 'bad_request'));
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable || responseInProgress(socket)) {
      // Nobody to answer, or a response is already on the wire: raw bytes now would be spliced into it
      // (a 408 inside a chunked body). Cutting the connection is the only honest signal left.
      socket.destroy();
      return;
    }
    sendRawError(socket, clientErrorCode(err, limits.maxUrlLength));
  });
  return server;
}

function clientErrorCode(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxUrlLength: number): ErrorCode {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return requestLineTooLong(err.rawPacket, maxUrlLength) ? 'uri_too_long' : 'header_fields_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return 'request_timeout';
    default:
      // Every other llhttp error (HPE_INVALID_*, HPE_UNEXPECTED_CONTENT_LENGTH, HPE_CR_EXPECTED …) is bad input.
      return 'bad_request';
  }
}

/**
 * Whether the response the socket is currently writing has sent its head. Node's own fallback for client
 * errors (socketOnError in lib/_http_server.js) makes the same check on the same field; there is no public one.
 */
function responseInProgress(socket: Socket): boolean {
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  return current != null && current.headersSent;
}

/** When the head overflowed, tell an oversized URL (414) from oversized headers (431) by the request line. */
function requestLineTooLong(packet: Buffer | undefined, maxUrlLength: number): boolean {
  if (!packet) return false;
  const end = packet.indexOf('\r\n');
  return end < 0 ? packet.length > maxUrlLength : end > maxUrlLength;
}

export function listen(server: http.Server, address: string): Promise<void> {
  const { host, port } = parseAddress(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // reusePort lets a reload bind a replacement socket before the old one closes, and lets workers share a
    // port through the kernel instead of through the cluster primary.
    server.listen({ host: host === '' ? undefined : host, port, reusePort: true, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

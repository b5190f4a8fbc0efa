// One listening socket: a node:http server configured from the listener's limits, with the request, 100-continue,
// upgrade and client-error paths wired to the proxy. Parser-level rejections (bad framing, oversized heads,
// slow clients) are answered here with the catalogue's codes and the connection is closed: framing is in doubt.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/schema.ts';
import type { ErrorCode } from '../errors/catalogue.ts';
import { createRequestHandler, type SnapshotSource } from './handle-request.ts';
import { sendRawError } from './send-error.ts';
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
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    noDelay: true,
  });
  // Node silently drops fields past maxHeadersCount; one more than the limit lets routeRequest see the overflow.
  server.maxHeadersCount = limits.maxHeaders + 1;
  const handleRequest = createRequestHandler(source, listener, 'http');
  server.on('request', handleRequest);
  server.on('checkContinue', (req, res) => handleRequest(req, res, true));
  server.on('upgrade', createUpgradeHandler(source, listener, 'http'));
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
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
      return 'bad_request';
  }
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

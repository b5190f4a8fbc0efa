// The one place where errors become responses: the catalogue's status and JSON body, x-sluice-error, the id.
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS, errorBody, type ErrorCode } from '../errors/catalogue.ts';

export interface SendErrorOptions {
  /** Close the connection after answering (framing in doubt, or the body was not read). */
  close?: boolean;
  requestIdHeader?: string;
  headers?: Record<string, string>;
  /** Answer with this status instead of the catalogue's (fault injection answers with the configured one). */
  status?: number;
}

/** The code a response was answered with, for the logging phase (writeHead's headers cannot be read back). */
const ERROR_CODE = Symbol('sluice.errorCode');

export function errorCodeOf(res: ServerResponse): ErrorCode | undefined {
  return (res as ServerResponse & { [ERROR_CODE]?: ErrorCode })[ERROR_CODE];
}

export function sendError(res: ServerResponse, code: ErrorCode, requestId: string, options: SendErrorOptions = {}): void {
  (res as ServerResponse & { [ERROR_CODE]?: ErrorCode })[ERROR_CODE] = code;
  if (res.headersSent) {
    // Too late for a status: cut the connection so the client sees a truncated response, never a complete one.
    res.destroy();
    return;
  }
  const body = errorBody(code, requestId);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-sluice-error': code,
    ...options.headers,
  };
  if (requestId !== '') headers[options.requestIdHeader ?? 'x-request-id'] = requestId;
  if (options.close || bodyStillExpected(res)) {
    headers.connection = 'close';
    res.shouldKeepAlive = false;
  }
  res.writeHead(options.status ?? ERRORS[code].status, headers);
  res.end(body);
}

/**
 * An answer given while the request body is still to come leaves its framing in doubt: a client refused before
 * its 100-continue may send the body anyway (RFC 9110 §10.1.1), and our parser would then read whatever comes
 * next as that body — or the client's next request as the rest of this one. Closing is what nginx and Envoy do.
 */
function bodyStillExpected(res: ServerResponse): boolean {
  const req = res.req;
  if (req === undefined || req.complete) return false;
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/**
 * For errors on a socket without a node:http response (parser errors, upgrades): a complete raw HTTP/1.1 answer
 * with the catalogue's status, body and x-sluice-error, then close. Parser errors have no request id yet.
 */
export function sendRawError(socket: Socket, code: ErrorCode, requestId = '', requestIdHeader = 'x-request-id'): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = errorBody(code, requestId);
  const { status } = ERRORS[code];
  const idLine = requestId === '' ? '' : `${requestIdHeader}: ${requestId}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-sluice-error: ${code}\r\n${idLine}connection: close\r\n\r\n${body}`,
  );
}

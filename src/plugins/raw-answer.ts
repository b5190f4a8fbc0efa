// An answer written straight onto the client's socket, for upgrade requests (WebSocket) that a plugin stops: they
// have no node:http response object. The connection closes after it, as every refused upgrade's does.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorBody, type ErrorCode } from '../errors/catalogue.ts';

export function writeRawAnswer(
  socket: Socket,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer | undefined,
  code: ErrorCode | undefined,
  requestId: string,
  requestIdHeader: string,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let payload = body ?? Buffer.alloc(0);
  if (code !== undefined) {
    payload = Buffer.from(errorBody(code, requestId));
    headers['content-type'] = 'application/json';
    headers['x-sluice-error'] = code;
  }
  headers[requestIdHeader] ??= requestId;
  headers['content-length'] = String(payload.length);
  headers.connection = 'close';
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), payload]));
}

// Answers and request bodies of the admin API: JSON with `{"error":{"code","message"}}` for failures (codes in
// api-errors.ts), bodies read with a size limit.
import type http from 'node:http';
import { ADMIN_ERRORS, type AdminErrorCode } from './api-errors.ts';

/** Largest request body the admin API reads (a config): far above any real config, small enough to refuse abuse. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body, null, 2) + '\n', 'application/json', headers);
}

export function text(res: http.ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
  send(res, status, body, contentType, headers);
}

function send(res: http.ServerResponse, status: number, body: string, contentType: string, headers: Record<string, string>): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** An error answer: the status comes from the catalogue in api-errors.ts; `extra` adds fields beside `error`. */
export function fail(res: http.ServerResponse, code: AdminErrorCode, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  json(res, ADMIN_ERRORS[code].status, { error: { code, message }, ...extra }, headers);
}

export class BodyError extends Error {
  readonly code: AdminErrorCode;
  constructor(code: AdminErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Reads the whole body as UTF-8, up to MAX_BODY_BYTES (more: BodyError payload_too_large). */
export async function readBody(req: http.IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) throw new BodyError('payload_too_large', `the body is ${declared} bytes; the admin API accepts up to ${MAX_BODY_BYTES}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyError('payload_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A header value as UTF-8: Node hands header bytes over as latin1, so a UTF-8 author name or message sent raw
 * is decoded here.
 */
export function headerText(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return Buffer.from(value, 'latin1').toString('utf8').trim();
}

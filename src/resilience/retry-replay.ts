// What a retry may send again. A retry repeats the request, so (RFC 9110 §9.2.2) only idempotent methods are
// retried unless the route opts in, and the body must still be at hand: a streamed body is gone once sent. So a
// route that retries buffers bodies up to a limit before forwarding (as Envoy's per-request buffer does); a body
// over the limit streams on unbuffered, what was read so far first, and that request is not retried.
import { Readable } from 'node:stream';

/** RFC 9110 §9.2.2: the methods whose repetition has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** A body that can be sent again (`replayable: true`, a Buffer) or only once (a stream). */
export type PreparedBody = { replayable: true; body: Buffer } | { replayable: false; body: Readable };

/**
 * Reads `body` into memory if it fits in `limit` bytes. A declared Content-Length over the limit is not read
 * at all. Rejects if the body stream fails (the client went away mid-upload).
 *
 * @example
 * const prepared = await prepareBodyForRetry(req, route.retry.bufferBody, contentLength);
 * exchange.setBody(prepared.body); // retries allowed only if prepared.replayable
 */
export function prepareBodyForRetry(body: Readable, limit: number, contentLength?: number): Promise<PreparedBody> {
  if (limit <= 0 || (contentLength !== undefined && contentLength > limit)) return Promise.resolve({ replayable: false, body });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buf);
      size += buf.length;
      if (size > limit) {
        body.pause();
        cleanup();
        resolve({ replayable: false, body: prepend(chunks, body) });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ replayable: true, body: Buffer.concat(chunks, size) });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

/** The chunks already read, then the rest of the stream, as one stream. */
function prepend(head: Buffer[], rest: Readable): Readable {
  return Readable.from(
    (async function* () {
      yield* head;
      for await (const chunk of rest) yield chunk as Buffer;
    })(),
    { objectMode: false },
  );
}

// A request body of unknown length (chunked) counted as it streams, cut off at the route's limit.
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';

export function bodyWithLimit(req: IncomingMessage, limit: number, onExceeded: () => void): Transform {
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      seen += chunk.length;
      if (seen > limit) {
        onExceeded();
        callback();
        return;
      }
      callback(null, chunk);
    },
  });
  req.on('error', (err) => counted.destroy(err));
  return req.pipe(counted);
}

// A raw-socket HTTP client for framing and hostile-input tests: sends exact bytes and returns exactly what came
// back, and whether the server closed the connection.
import net from 'node:net';

export interface RawResponse {
  /** Everything received, as latin1 text. */
  text: string;
  /** Status of the first response, or 0 when none arrived. */
  status: number;
  /** The server closed the connection (rather than our timeout ending the wait). */
  closed: boolean;
}

export interface RawOptions {
  /** Stop waiting after this long (ms); default 2000. */
  timeout?: number;
  /** Resolve as soon as this many complete-looking responses arrived, without waiting for close. */
  responses?: number;
  /** Bytes sent later, after this delay (ms) — for slow-client tests. */
  then?: { delay: number; bytes: string | Buffer };
}

export function rawRequest(port: number, bytes: string | Buffer, options: RawOptions = {}): Promise<RawResponse> {
  const { timeout = 2000 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed });
    };
    const timer = setTimeout(() => finish(false), timeout);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (options.responses && countResponses(Buffer.concat(chunks).toString('latin1')) >= options.responses) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? finish(true) : reject(err)));
    socket.write(bytes);
    if (options.then) {
      const later = options.then;
      setTimeout(() => socket.writable && socket.write(later.bytes), later.delay);
    }
  });
}

/** Counts responses whose head is complete and whose Content-Length body has fully arrived. */
function countResponses(text: string): number {
  let count = 0;
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return count;
    const length = /\r\ncontent-length: *(\d+)/i.exec(rest.slice(0, headEnd));
    const end = headEnd + 4 + (length ? Number(length[1]) : 0);
    if (rest.length < end) return count;
    count++;
    rest = rest.slice(end);
  }
}

// Upstreams that misbehave on demand, for the resilience tests: answer normally, answer 5xx, reset the connection,
// hang (accept and never answer), answer slowly (with a capacity, so a queue builds as in a real service), or be
// killed mid-run and brought back on the same port. Plus a small HTTP client that times every request.
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Agent, request } from 'undici';

export type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number }
  | { kind: 'reset' }
  | { kind: 'hang' }
  /**
   * Each request takes `ms`, then gets `status` (200); at most `capacity` are served at once, the rest wait in line
   * (a real server's queue).
   */
  | { kind: 'slow'; ms: number; capacity?: number; status?: number };

export interface Misbehaving {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Requests received (health checks excluded), and the bodies they carried. */
  readonly hits: { path: string; method: string; body: string; at: number; headers: http.IncomingHttpHeaders }[];
  /** Health checks received (GET /health). */
  healthChecks: number;
  /** When each health check arrived (performance.now()). */
  readonly healthAt: number[];
  behave(behaviour: Behaviour): void;
  /** The health endpoint answers this status (default 200). */
  healthStatus: number;
  /** Closes the listening socket and every connection: the target is dead (connections refused). */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
  close(): Promise<void>;
}

export async function misbehaving(name: string, initial: Behaviour = { kind: 'ok' }): Promise<Misbehaving> {
  let behaviour: Behaviour = initial;
  let busy = 0;
  const queue: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/health') {
        up.healthChecks++;
        up.healthAt.push(performance.now());
        res.writeHead(up.healthStatus, { 'x-upstream': name }).end();
        return;
      }
      up.hits.push({ path: req.url!, method: req.method!, body: Buffer.concat(chunks).toString(), at: Date.now(), headers: req.headers });
      const b = behaviour;
      switch (b.kind) {
        case 'ok':
          return void res.writeHead(200, { 'x-upstream': name, 'content-type': 'text/plain' }).end(name);
        case 'status':
          return void res.writeHead(b.status, { 'x-upstream': name }).end(`${name} ${b.status}`);
        case 'reset':
          return void req.socket.resetAndDestroy();
        case 'hang':
          return;
        case 'slow': {
          const serve = () => {
            busy++;
            setTimeout(() => {
              busy--;
              queue.shift()?.();
              if (!res.destroyed) res.writeHead(b.status ?? 200, { 'x-upstream': name }).end(name);
            }, b.ms);
          };
          if (b.capacity === undefined || busy < b.capacity) serve();
          else queue.push(serve);
        }
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const up: Misbehaving = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    hits: [],
    healthChecks: 0,
    healthAt: [],
    healthStatus: 200,
    behave(next) {
      behaviour = next;
    },
    async kill() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async revive() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return up;
}

/** A TCP server that accepts connections and never says a word: a half-open peer, as a hung process looks. */
export async function silentServer(): Promise<{ url: string; accepted: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port where nothing listens (connections are refused). */
export async function closedUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

/** A keep-alive client; `fresh: true` sends Connection: close (a new connection per request). */
export function client(base: string | (() => string), options: { connections?: number } = {}) {
  const agent = new Agent({ connections: options.connections ?? 64, keepAliveTimeout: 30_000 });
  const url = typeof base === 'string' ? () => base : base;
  return {
    async send(path = '/', init: { method?: string; headers?: Record<string, string>; body?: string; fresh?: boolean; signal?: AbortSignal } = {}): Promise<Reply> {
      const started = performance.now();
      const res = await request(url() + path, {
        dispatcher: agent,
        method: (init.method ?? 'GET') as 'GET',
        headers: { ...init.headers, ...(init.fresh ? { connection: 'close' } : {}) },
        body: init.body,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
        signal: init.signal,
      });
      const body = await res.body.text();
      return { status: res.statusCode, headers: res.headers, body, ms: performance.now() - started };
    },
    close: () => agent.close(),
  };
}

/** Polls until `check` returns true (running `between` before each new look, else waiting 10 ms); fails after `ms`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 5000, between?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    if (between) await between();
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The q-th percentile (0-100) of `values`. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)]!;
}

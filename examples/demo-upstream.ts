// A tiny upstream service for the quickstart and the tests: it says which instance answered and echoes what it
// received, so round-robin, rewrites and forwarded headers are visible with curl.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const USERS = [
  { id: 1, name: 'Ada Lovelace' },
  { id: 2, name: 'Grace Hopper' },
  { id: 3, name: 'Edsger Dijkstra' },
];

export function startDemoUpstream(instance: string, port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    let body: unknown;
    if (path === '/health') body = { status: 'ok', instance };
    else if (path === '/users') body = { instance, users: USERS };
    else if (/^\/users\/\d+$/.test(path)) {
      const user = USERS.find((u) => u.id === Number(path.slice(7)));
      if (!user) return send(res, 404, { instance, error: 'no such user' });
      body = { instance, user };
    } else {
      body = {
        instance,
        message: `Hello from ${instance}, behind Sluice. Try /api/users, or any path to see what the upstream received.`,
        received: { method: req.method, url: req.url, headers: req.headers },
      };
    }
    req.resume();
    send(res, 200, body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

// What the discovery tests share: upstreams that answer their own name on a chosen loopback address (discovered
// targets differ by address, so several may share a port), and which of them a gateway's answers came from.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from './process.ts';

export class NamedUpstreams {
  readonly #servers: http.Server[] = [];

  /** An upstream answering its name (in x-upstream and the body) on host:port (port 0: any); returns the port. */
  async start(name: string, host: string, port = 0): Promise<number> {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'x-upstream': name });
      res.end(name);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    this.#servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  close(): void {
    for (const s of this.#servers) {
      s.closeAllConnections();
      s.close();
    }
  }
}

/** The upstreams (or "503 error_code" for a Sluice error) that answered `requests` GETs of url, sorted. */
export async function servedBy(url: string, requests: number): Promise<string[]> {
  const out = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const res = await fetch(url + '/', { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    out.add(res.status === 200 ? res.headers.get('x-upstream')! : `${res.status} ${res.headers.get('x-sluice-error')}`);
  }
  return [...out].sort();
}

/** Waits until six requests to url are answered by exactly `want`. */
export function untilServedBy(url: string, want: string[], ms = 10_000): Promise<true> {
  return eventually(async () => (JSON.stringify(await servedBy(url, 6)) === JSON.stringify(want) ? true : undefined), ms);
}

// A minimal Kubernetes API server for discovery tests, where no cluster is available: it serves the list and the
// watch of discovery.k8s.io/v1 EndpointSlices in one namespace (label selector, resourceVersion, newline-delimited
// watch events) as the real API server does, over plain HTTP on a loopback port, and can be told to fail.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Slice {
  name: string;
  service: string;
  port: { name: string; port: number };
  endpoints: Array<{ address: string; ready?: boolean }>;
}

interface Event {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Record<string, unknown>;
  rv: number;
}

const PATH = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/;

export class FakeKubeApi {
  readonly #server: http.Server;
  readonly #slices = new Map<string, Record<string, unknown>>();
  readonly #events: Event[] = [];
  readonly #watches = new Set<{ res: http.ServerResponse; selector: string | null }>();
  #rv = 100;
  /** Every request answers 500 and open watches are cut. */
  failing = false;
  lists = 0;
  watches = 0;

  private constructor() {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  static async start(): Promise<FakeKubeApi> {
    const api = new FakeKubeApi();
    await new Promise<void>((resolve) => api.#server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** A kubeconfig naming this server, with a bearer token, written in `dir` (plain HTTP, as to `kubectl proxy`: the client asks for insecure-skip-tls-verify then). */
  kubeconfig(dir: string): string {
    const path = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      path,
      `apiVersion: v1
kind: Config
clusters: [{ name: fake, cluster: { server: "${this.url}", insecure-skip-tls-verify: true } }]
users: [{ name: tester, user: { token: test-token } }]
contexts: [{ name: fake, context: { cluster: fake, user: tester, namespace: default } }]
current-context: fake
`,
    );
    return path;
  }

  put(slice: Slice): void {
    const type = this.#slices.has(slice.name) ? 'MODIFIED' : 'ADDED';
    const rv = ++this.#rv;
    const object = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: slice.name, namespace: 'default', labels: { 'kubernetes.io/service-name': slice.service }, resourceVersion: String(rv) },
      addressType: 'IPv4',
      ports: [{ name: slice.port.name, port: slice.port.port, protocol: 'TCP' }],
      endpoints: slice.endpoints.map((e) => ({ addresses: [e.address], conditions: { ready: e.ready ?? true } })),
    };
    this.#slices.set(slice.name, object);
    this.#publish({ type, object, rv });
  }

  delete(name: string): void {
    const object = this.#slices.get(name);
    if (!object) return;
    this.#slices.delete(name);
    const rv = ++this.#rv;
    this.#publish({ type: 'DELETED', object: { ...object, metadata: { ...(object.metadata as object), resourceVersion: String(rv) } }, rv });
  }

  /** Fail every request from now on, and cut the open watches. */
  fail(): void {
    this.failing = true;
    for (const w of this.#watches) w.res.destroy();
    this.#watches.clear();
  }

  close(): Promise<void> {
    for (const w of this.#watches) w.res.destroy();
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #publish(event: Event): void {
    this.#events.push(event);
    for (const w of this.#watches) if (matches(event.object, w.selector)) w.res.write(JSON.stringify({ type: event.type, object: event.object }) + '\n');
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url!, this.url);
    const path = PATH.exec(url.pathname);
    if (this.failing) {
      res.writeHead(500, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcdserver: request timed out', code: 500 }));
    }
    if (!path || req.method !== 'GET' || req.headers.authorization !== 'Bearer test-token') {
      res.writeHead(path ? 401 : 404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: path ? 401 : 404 }));
    }
    const selector = url.searchParams.get('labelSelector');
    if (url.searchParams.get('watch') === 'true') {
      this.watches++;
      const from = Number(url.searchParams.get('resourceVersion') ?? 0);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      // The API server sends the head at once; a client waits for it before it counts the watch as open.
      res.flushHeaders();
      for (const e of this.#events) if (e.rv > from && matches(e.object, selector)) res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
      const watch = { res, selector };
      this.#watches.add(watch);
      res.on('close', () => this.#watches.delete(watch));
      return;
    }
    this.lists++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSliceList',
        metadata: { resourceVersion: String(this.#rv) },
        items: [...this.#slices.values()].filter((s) => matches(s, selector)),
      }),
    );
  }
}

/** `kubernetes.io/service-name=NAME`, the only selector form discovery sends. */
function matches(object: Record<string, unknown>, selector: string | null): boolean {
  if (selector === null) return true;
  const [key, value] = selector.split('=');
  const labels = (object.metadata as { labels?: Record<string, string> }).labels ?? {};
  return labels[key!] === value;
}

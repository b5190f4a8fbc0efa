// `sluice/plugin/testing`: a real gateway on loopback for a plugin's own tests — your plugin (loaded by path, as
// a config would load it) on a route in front of an echo upstream that records what it received. Nothing is
// mocked: what passes here passes in `sluice start`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { configSchema, type ConfigInput } from '../config/schema.ts';
import { Gateway } from '../proxy/gateway.ts';
import type { Logger } from './api.ts';

/** One request as the echo upstream received it. */
export interface EchoedRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface PluginTestOptions {
  /** The plugin module: a path or a file: URL (e.g. new URL('./index.ts', import.meta.url)). */
  readonly path: string | URL;
  /** The entry's `config:`. */
  readonly config?: unknown;
  /** More of the route's settings (match, stripPrefix, …); its plugins are yours only. */
  readonly route?: Record<string, unknown>;
  /** Plugins of the route before yours (e.g. [{ 'key-auth': {} }]), and `consumers:`. */
  readonly before?: readonly Record<string, unknown>[];
  readonly consumers?: readonly Record<string, unknown>[];
  /** Where plugin logs go (default: nowhere). */
  readonly log?: Logger;
}

export interface PluginTestGateway {
  /** http://127.0.0.1:PORT of the gateway. */
  readonly url: string;
  /** What reached the upstream, oldest first. */
  readonly received: EchoedRequest[];
  close(): Promise<void>;
}

/**
 * Starts a gateway (route "test", upstream "echo") with the plugin at `path`. The echo upstream answers 200 with a
 * JSON copy of the request it got.
 *
 * @example
 * import { startPluginGateway } from 'sluice/plugin/testing';
 * const gw = await startPluginGateway({ path: new URL('../index.ts', import.meta.url), config: { greeting: 'hi' } });
 * const res = await fetch(`${gw.url}/hello`);
 * assert.equal(gw.received[0]?.headers['x-greeting'], 'hi');
 * await gw.close();
 */
export async function startPluginGateway(options: PluginTestOptions): Promise<PluginTestGateway> {
  const received: EchoedRequest[] = [];
  const upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const echoed = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
      received.push(echoed);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echoed));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const path = options.path instanceof URL ? fileURLToPath(options.path) : options.path;
  const config = configSchema.parse({
    listeners: [{ name: 'test', address: '127.0.0.1:0' }],
    upstreams: [{ name: 'echo', targets: [{ url: `http://127.0.0.1:${port}` }] }],
    routes: [{ name: 'test', upstream: 'echo', ...options.route, plugins: [...(options.before ?? []), { path, config: options.config }] }],
    consumers: options.consumers ?? [],
  } as ConfigInput);
  const gateway = new Gateway({ log: options.log });
  try {
    await gateway.apply(config);
  } catch (err) {
    upstream.close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${gateway.addresses()[0]!.port}`,
    received,
    async close() {
      await gateway.close(1000);
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    },
  };
}

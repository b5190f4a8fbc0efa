// An in-process Sluice gateway for integration tests: config as an object (validated by the real schema),
// listeners and admin on ephemeral loopback ports.
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { Gateway, type GatewayOptions } from '../../src/proxy/gateway.ts';

export interface TestGateway {
  gateway: Gateway;
  port: number;
  url: string;
  /** Port of a listener by name. */
  portOf(name: string): number;
  apply(config: ConfigInput): Promise<void>;
  close(): Promise<void>;
}

export function testConfig(config: ConfigInput) {
  return configSchema.parse({ listeners: [{ name: 'test', address: '127.0.0.1:0' }], ...config });
}

export async function startGateway(config: ConfigInput, options: GatewayOptions = {}): Promise<TestGateway> {
  const gateway = new Gateway(options);
  await gateway.apply(testConfig(config));
  const portOf = (name: string) => gateway.addresses().find((a) => a.name === name)!.port;
  const port = gateway.addresses()[0]!.port;
  return {
    gateway,
    port,
    url: `http://127.0.0.1:${port}`,
    portOf,
    apply: async (c) => void (await gateway.apply(testConfig(c))),
    close: () => gateway.close(1000),
  };
}

/** A one-upstream, one-route config: the common case in tests. */
export function simpleConfig(targets: string[], route: Record<string, unknown> = {}, upstream: Record<string, unknown> = {}): ConfigInput {
  return {
    upstreams: [{ name: 'app', targets: targets.map((url) => ({ url })), ...upstream }],
    routes: [{ name: 'all', upstream: 'app', ...route }],
  } as ConfigInput;
}

// What a built-in plugin is: a Plugin whose config the schema in src/config/ has already validated (so a mistake
// is a config error with its line and column), and which may reach a few gateway services the public API leaves
// out (the rate-limit stores, the gateway's own metrics).
import type { SluiceConfig } from '../../config/schema.ts';
import type { GatewayMetrics } from '../../observability/types.ts';
import type { PolicyRegistry } from '../../snapshot/policy-registry.ts';
import type { PluginEnv, PluginInstance } from '../api.ts';

export interface BuiltinServices {
  readonly policies: PolicyRegistry;
  readonly gatewayMetrics: GatewayMetrics | undefined;
  /** The config's server section (rate-limit store settings). */
  readonly server: SluiceConfig['server'];
}

export interface BuiltinEnv extends PluginEnv {
  readonly services: BuiltinServices;
}

export interface Builtin<Config> {
  readonly name: string;
  create(config: Config, env: BuiltinEnv): PluginInstance;
  /** Settings outside the plugin's own that its instance depends on: when they change, a new one is made. */
  instanceKey?(server: SluiceConfig['server']): string;
}

// `routes[].plugins`: the plugin chain as config writes it, one single-key map per plugin, in chain order:
//   plugins:
//     - rate-limit: { rate: 100/s, burst: 50, key: client-ip }
// Each known plugin name is a field of the entry's schema, so an unknown name is rejected with a did-you-mean
// (zod-issues.ts words it as an unknown plugin). Today the only plugin is rate-limit; the plugin API adds the rest.
import { z } from 'zod';
import { rateLimitSchema } from './resilience-schema.ts';

/** The configurable plugins by name. */
export const pluginSchemas = {
  'rate-limit': rateLimitSchema,
} as const;

export type PluginName = keyof typeof pluginSchemas;

export const pluginsSchema = z
  .array(z.strictObject(pluginSchemas).describe('One plugin: its name and its settings, e.g. rate-limit: { rate: 100/s }.'))
  .describe('Plugins run on this route, in order. Known: rate-limit (the same settings as rateLimit).');

export type PluginsConfig = z.output<typeof pluginsSchema>;

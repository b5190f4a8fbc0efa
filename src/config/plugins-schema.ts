// Plugin chains as config writes them (`plugins:` at the top level, on upstreams and on routes): a list, in chain
// order, of one-plugin entries. A built-in is a single-key map named after it; a plugin of your own is a module
// file or an npm package with its settings under `config:`:
//   plugins:
//     - rate-limit: { rate: 100/s, burst: 50, key: client-ip }
//     - path: ./plugins/hello.ts
//       config: { greeting: hi }
//     - package: sluice-plugin-audit
// Each built-in name is a field of the entry's schema, so an unknown name gets a did-you-mean (zod-issues.ts words
// it as an unknown plugin) and a built-in's mistakes point into its settings (routes[0].plugins[1].jwt.issuer).
// A module's `config:` is checked against the module's own schema when the module is loaded (plugins/loader.ts).
import { resolve } from 'node:path';
import { z } from 'zod';
import { aclPluginSchema, basicAuthPluginSchema, jwtPluginSchema, keyAuthPluginSchema } from './auth-plugins-schema.ts';
import { rateLimitSchema } from './resilience-schema.ts';
import {
  corsPluginSchema,
  headersPluginSchema,
  ipRestrictionPluginSchema,
  redirectPluginSchema,
  requestIdPluginSchema,
  requestSizeLimitPluginSchema,
  staticResponsePluginSchema,
} from './traffic-plugins-schema.ts';

/** Settings that may be left out entirely: `- cors:` means `- cors: {}`. */
function emptyMeansDefaults<T extends z.ZodType<object>>(schema: T) {
  return z
    .union([schema, z.null().transform(() => schema.parse({}) as z.output<T>)])
    .describe(`${schema.description ?? ''} Left empty (\`- name:\`), every default applies.`.trim());
}

/** The built-in plugins by name, with their settings. */
export const pluginSchemas = {
  'rate-limit': rateLimitSchema,
  jwt: jwtPluginSchema,
  'key-auth': emptyMeansDefaults(keyAuthPluginSchema),
  'basic-auth': emptyMeansDefaults(basicAuthPluginSchema),
  acl: aclPluginSchema,
  cors: emptyMeansDefaults(corsPluginSchema),
  'ip-restriction': ipRestrictionPluginSchema,
  'request-size-limit': requestSizeLimitPluginSchema,
  headers: headersPluginSchema,
  'request-id': emptyMeansDefaults(requestIdPluginSchema),
  redirect: redirectPluginSchema,
  'static-response': emptyMeansDefaults(staticResponsePluginSchema),
} as const;

export type PluginName = keyof typeof pluginSchemas;
export const BUILTIN_PLUGINS = Object.keys(pluginSchemas) as PluginName[];

/** An npm package name, e.g. sluice-plugin-audit or @acme/sluice-plugin. */
const PACKAGE_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*(\/[^\s]+)?$/;

const builtinFields = Object.fromEntries(
  Object.entries(pluginSchemas).map(([name, schema]) => [name, schema.optional()]),
) as { [K in PluginName]: z.ZodOptional<(typeof pluginSchemas)[K]> };

const entry = z
  .strictObject({
    ...builtinFields,
    path: z.string().min(1).optional().describe('A plugin module of your own (.ts, .mjs or .js), relative to the config file.'),
    package: z.string().regex(PACKAGE_NAME, 'an npm package name, e.g. sluice-plugin-audit or @acme/sluice-plugin').optional().describe(
      'An npm package exporting a plugin, resolved from node_modules beside the config file.',
    ),
    config: z.unknown().optional().describe('Settings of a path or package plugin, checked against its own schema when it is loaded.'),
    from: z.string().min(1).optional().describe('Directory that path and package are resolved from (default: the config file\'s).'),
  })
  .superRefine((e, ctx) => {
    const named = Object.keys(e).filter((k) => k in pluginSchemas || k === 'path' || k === 'package');
    if (named.length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'name the plugin, e.g. - cors: {}, - path: ./plugins/hello.ts or - package: sluice-plugin-x' });
    } else if (named.length > 1) {
      ctx.addIssue({ code: 'custom', path: [named[1]!], message: `one plugin per entry: ${named.join(' and ')} each need their own "- " entry` });
    } else if ((e.config !== undefined || e.from !== undefined) && e.path === undefined && e.package === undefined) {
      const field = e.config !== undefined ? 'config' : 'from';
      ctx.addIssue({ code: 'custom', path: [field], message: `${field} goes with path or package; a built-in takes its settings under its name, e.g. - ${named[0]}: { … }` });
    }
  }, { when: (payload) => payload.issues.every((issue) => issue.code !== 'unrecognized_keys') }) // an unknown name is its own message
  .describe('One plugin: a built-in by name with its settings (- cors: { origins: [https://app.example.com] }), or - path: FILE / - package: NAME with config.')
  // One definition in the JSON Schema ($defs), referenced by the three places plugins are attached.
  .meta({ id: 'PluginEntry' });

export const pluginsSchema = z
  .array(entry)
  .describe(`Plugins, in chain order. Built-in: ${BUILTIN_PLUGINS.join(', ')}; or your own by path or package (docs/plugins.md).`);

export type PluginsConfig = z.output<typeof pluginsSchema>;
export type PluginEntryConfig = PluginsConfig[number];

/**
 * Where a config's path and package plugins are resolved from: the directory of the config file, unless an entry
 * says otherwise with `from` (itself relative to that directory). Runs on the validated config before it is frozen,
 * so the config carries absolute directories wherever it goes (cluster workers get it as data).
 *
 * @example
 * fillPluginBase(config, '/etc/sluice'); // { path: './p.ts' } → { path: './p.ts', from: '/etc/sluice' }
 */
export function fillPluginBase(config: { plugins?: PluginsConfig; upstreams: ReadonlyArray<{ plugins?: PluginsConfig }>; routes: ReadonlyArray<{ plugins?: PluginsConfig }> }, dir: string): void {
  const lists = [config.plugins, ...config.upstreams.map((u) => u.plugins), ...config.routes.map((r) => r.plugins)];
  for (const list of lists) {
    for (const entry of list ?? []) {
      if (entry.path === undefined && entry.package === undefined) continue;
      (entry as { from?: string }).from = entry.from === undefined ? dir : resolve(dir, entry.from);
    }
  }
}

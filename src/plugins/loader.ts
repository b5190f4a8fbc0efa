// Loading plugins of your own: a module file by path, or an npm package by name, resolved from the directory the
// config entry names (`from`, filled in with the config file's directory when it loads). A module is imported
// with its modification time in the URL, so a reload after the file changed runs the new code (files that module
// imports itself stay cached until a restart). Its `config:` is then validated with the plugin's own schema.
import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import type { ConfigPath } from '../config/problem.ts';
import { friendlyError, problemsFromIssues } from '../config/zod-issues.ts';
import type { Plugin, StandardIssue } from './api.ts';

export interface LoadedModule {
  /** The module's identity: its file URL with the modification time (a changed file is a new plugin). */
  readonly id: string;
  readonly file: string;
  readonly definition: Plugin<unknown>;
}

export interface ModuleRef {
  readonly path?: string | undefined;
  readonly package?: string | undefined;
  readonly from?: string | undefined;
}

/**
 * Imports the plugin a path or package entry names.
 *
 * @example
 * const { definition } = await loadPluginModule({ path: './plugins/hello.ts', from: '/etc/sluice' });
 */
export async function loadPluginModule(ref: ModuleRef): Promise<LoadedModule> {
  const base = ref.from ?? process.cwd();
  const file = ref.path !== undefined ? resolve(base, ref.path) : resolvePackage(ref.package!, base);
  let mtime: number;
  try {
    mtime = (await stat(file)).mtimeMs;
  } catch {
    throw new Error(ref.path !== undefined ? `no such file ${file}` : `package "${ref.package}" names ${file}, which does not exist`);
  }
  const id = `${pathToFileURL(file).href}?mtime=${mtime}`;
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(id)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { id, file, definition: pluginExport(namespace, file) };
}

/** The default export (or `plugin`), checked for the shape of a Plugin. */
function pluginExport(namespace: Record<string, unknown>, file: string): Plugin<unknown> {
  let candidate = namespace.default ?? namespace.plugin;
  // A CommonJS module that set exports.default: import() puts its whole exports object under default.
  if (!isPlugin(candidate) && isPlugin((candidate as { default?: unknown } | undefined)?.default)) candidate = (candidate as { default: unknown }).default;
  if (!isPlugin(candidate)) throw new Error(`${file} does not export a plugin: expected \`export default { name: 'my-plugin', create(config, env) { … } }\``);
  return candidate;
}

function isPlugin(value: unknown): value is Plugin<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Partial<Plugin<unknown>>;
  return typeof p.name === 'string' && p.name.length > 0 && typeof p.create === 'function';
}

/** The file an npm package's entry (exports "." or a subpath, else main) names, found in node_modules upwards. */
export function resolvePackage(specifier: string, from: string): string {
  const parts = specifier.split('/');
  const size = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, size).join('/');
  const subpath = parts.length > size ? `./${parts.slice(size).join('/')}` : '.';
  for (let dir = from; ; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', name);
    if (existsSync(join(root, 'package.json'))) return packageEntry(root, name, subpath);
    if (dirname(dir) === dir) break;
  }
  throw new Error(`cannot find package "${name}" in node_modules of ${from} or above; install it there (npm install ${name}) or set from:`);
}

function packageEntry(root: string, name: string, subpath: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  if (manifest.exports !== undefined) {
    const exports = manifest.exports;
    const bySubpath = typeof exports === 'object' && exports !== null && !Array.isArray(exports) && Object.keys(exports).some((k) => k.startsWith('.'));
    const target = conditional(bySubpath ? (exports as Record<string, unknown>)[subpath] : subpath === '.' ? exports : undefined);
    if (target === undefined) throw new Error(`package "${name}" does not export "${subpath}" for import`);
    return resolve(root, target);
  }
  const main = resolve(root, subpath === '.' ? (manifest.main ?? 'index.js') : subpath);
  return existsSync(main) || !existsSync(`${main}.js`) ? main : `${main}.js`;
}

/** An exports target for `import` in Node: a string, or the first matching condition. */
function conditional(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const found = conditional(t);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof target !== 'object' || target === null) return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (condition === 'import' || condition === 'node' || condition === 'default' || condition === 'module-sync') {
      const found = conditional(value);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export interface ConfigIssue {
  readonly path: ConfigPath;
  readonly message: string;
}

/**
 * Validates a plugin's `config:` with its schema (left out means {}). A zod schema gets Sluice's own wording and
 * did-you-mean; any other Standard Schema, its own messages.
 */
export async function validatePluginConfig(plugin: Plugin<unknown>, raw: unknown): Promise<{ value: unknown } | { issues: ConfigIssue[] }> {
  const input = raw ?? {};
  const schema = plugin.schema;
  if (schema === undefined) return { value: input };
  if (isZod(schema)) {
    const result = await schema.safeParseAsync(input, { error: friendlyError, reportInput: true });
    if (result.success) return { value: result.data };
    return { issues: problemsFromIssues(result.error.issues, schema) };
  }
  const result = await schema['~standard'].validate(input);
  if (result.issues === undefined) return { value: result.value };
  return { issues: result.issues.map((issue) => ({ path: issuePath(issue), message: issue.message })) };
}

type ZodLike = z.ZodType & { safeParseAsync: z.ZodType['safeParseAsync'] };

function isZod(schema: object): schema is ZodLike {
  return '_zod' in schema && typeof (schema as { safeParseAsync?: unknown }).safeParseAsync === 'function';
}

function issuePath(issue: StandardIssue): ConfigPath {
  return (issue.path ?? []).map((segment) => {
    const key = typeof segment === 'object' ? segment.key : segment;
    return typeof key === 'number' ? key : String(key);
  });
}

// Loads a config file: YAML with positions → schema validation → cross-checks → one sorted list of errors, or a
// frozen config. Every error says where (file:line:column and path) and what to do.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { crossCheck } from './cross-check.ts';
import { deepFreeze } from './freeze.ts';
import { fillPluginBase } from './plugins-schema.ts';
import { formatPath } from './problem.ts';
import type { ConfigProblem } from './problem.ts';
import { configSchema } from './schema.ts';
import type { SluiceConfig } from './schema.ts';
import { YamlSource } from './yaml-source.ts';
import { friendlyError, problemsFromIssues } from './zod-issues.ts';

/** One mistake in a config file. line and column are 1-based; both are 0 when the file could not be read. */
export interface ConfigError {
  file: string;
  line: number;
  column: number;
  /** Where in the config, e.g. "routes[1].upstream"; empty for the document itself. */
  path: string;
  message: string;
}

export type LoadResult = { ok: true; config: SluiceConfig; text: string } | { ok: false; errors: ConfigError[] };

/**
 * One line per error, as compilers print them.
 *
 * @example
 * formatConfigError({ file: 'sluice.yaml', line: 14, column: 15, path: 'routes[1].upstream',
 *   message: 'unknown upstream "userz" (did you mean "users"?)' });
 * // 'sluice.yaml:14:15 routes[1].upstream: unknown upstream "userz" (did you mean "users"?)'
 */
export function formatConfigError(e: ConfigError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  return `${where}${e.path === '' ? '' : ` ${e.path}`}: ${e.message}`;
}

/**
 * Parses and validates config text. On success the config has every default filled in, durations in
 * milliseconds and sizes in bytes, and is deep-frozen. On failure, every error in the file, in file order.
 * An empty file is valid: all defaults.
 *
 * @example
 * const result = parseConfig(text, 'sluice.yaml');
 * if (!result.ok) for (const e of result.errors) console.error(formatConfigError(e));
 */
export function parseConfig(text: string, file: string): LoadResult {
  const source = new YamlSource(text);
  if (source.syntaxErrors.length > 0) {
    return { ok: false, errors: sorted(source.syntaxErrors.map((e) => ({ file, line: e.line, column: e.column, path: '', message: e.message }))) };
  }
  const data = source.data ?? {};
  const parsed = configSchema.safeParse(data, { error: friendlyError, reportInput: true });
  const problems: ConfigProblem[] = parsed.success ? [] : problemsFromIssues(parsed.error.issues, configSchema);
  // Cross-checks run on the data as written, so their mistakes are reported alongside the schema's.
  problems.push(...crossCheck(data, (path) => source.lineOf(path)));
  if (problems.length > 0 || !parsed.success) {
    const errors = problems.map((p) => ({ file, ...source.positionOf(p.path, p.key), path: formatPath(p.path), message: p.message }));
    return { ok: false, errors: sorted(errors) };
  }
  const dir = dirname(resolve(file));
  fillPluginBase(parsed.data, dir);
  resolveFilePaths(parsed.data, dir);
  return { ok: true, config: deepFreeze(parsed.data), text };
}

/**
 * Makes the certificate files a config names absolute, against the config file's folder (as plugin modules are):
 * an instance then reads them from the same place whatever its working directory, and with a shared (etcd) config
 * each instance reads them beside its own local file.
 */
function resolveFilePaths(config: SluiceConfig, dir: string): void {
  const within = (holder: { ca?: string; cert?: string; key?: string } | undefined): void => {
    if (holder === undefined) return;
    for (const field of ['ca', 'cert', 'key'] as const) {
      const value = holder[field];
      if (value !== undefined) holder[field] = resolve(dir, value);
    }
  };
  within(config.store.etcd?.tls);
  for (const upstream of config.upstreams) {
    within(upstream.tls);
    const discovery = upstream.discovery;
    if (discovery !== undefined && 'etcd' in discovery) within(discovery.etcd.tls);
  }
}

/**
 * Reads and parses a config file. A file that cannot be read is one error at 0:0 saying what to do.
 *
 * @example
 * const result = await loadConfigFile('sluice.yaml');
 */
export async function loadConfigFile(file: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { ok: false, errors: [{ file, line: 0, column: 0, path: '', message: `cannot read: ${readProblem(error)}` }] };
  }
  return parseConfig(text, file);
}

function readProblem(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file; create it or pass -c FILE';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; make the file readable by this user or pass -c FILE';
    case 'EISDIR':
      return 'it is a directory; pass -c FILE with the path of a YAML file';
    default:
      return `${(error as Error).message}; check the path or pass -c FILE`;
  }
}

/** File order; errors at the same spot keep the order they were found in. Exact repeats are dropped. */
function sorted(errors: ConfigError[]): ConfigError[] {
  const seen = new Set<string>();
  return errors
    .filter((e) => {
      const line = formatConfigError(e);
      if (seen.has(line)) return false;
      seen.add(line);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

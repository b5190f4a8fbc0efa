// Route header changes (add / set / remove), compiled once per snapshot into arrays the hot path walks.
import type { HeaderOpsConfig } from '../config/schema.ts';

export interface HeaderOps {
  /** Lower-case names to drop, including the names that `set` replaces. */
  readonly remove: ReadonlySet<string>;
  /** [name, value] pairs appended after removal: `set` values, then `add` values (Host excepted). */
  readonly append: ReadonlyArray<readonly [string, string]>;
  /**
   * Host as `set` or `add` gives it, kept apart from `append`: a request carries exactly one Host (RFC 9112 §3.2),
   * and undici refuses a second, so forwardHeaders writes this value into its Host slot instead.
   */
  readonly host: string | undefined;
}

export function compileHeaderOps(config: HeaderOpsConfig | undefined): HeaderOps | undefined {
  if (!config) return undefined;
  const remove = new Set((config.remove ?? []).map((n) => n.toLowerCase()));
  const append: Array<readonly [string, string]> = [];
  let host: string | undefined;
  for (const [name, value] of Object.entries(config.set ?? {})) {
    remove.add(name.toLowerCase());
    if (name.toLowerCase() === 'host') host = value;
    else append.push([name, value]);
  }
  for (const [name, value] of Object.entries(config.add ?? {})) {
    if (name.toLowerCase() === 'host') host ??= value;
    else append.push([name, value]);
  }
  if (remove.size === 0 && append.length === 0 && host === undefined) return undefined;
  return { remove, append, host };
}

/** Applies ops to a node:http style header record (lower-case keys), in place. */
export function applyHeaderOpsToRecord(headers: Record<string, string | string[] | undefined>, ops: HeaderOps): void {
  for (const name of ops.remove) delete headers[name];
  for (const [name, value] of ops.append) {
    const key = name.toLowerCase();
    const existing = headers[key];
    if (existing === undefined) headers[key] = value;
    else headers[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  if (ops.host !== undefined) headers.host = ops.host;
}

// How the CLI prints: aligned tables for people by default, JSON or YAML (`--output`) for scripts.
import { stringify } from 'yaml';

export const OUTPUTS = ['table', 'json', 'yaml'] as const;
export type Output = (typeof OUTPUTS)[number];

/**
 * Columns padded to their widest cell; the last column is not padded.
 *
 * @example
 * table(['NAME', 'UPSTREAM'], [['users-api', 'users']]);
 * // 'NAME       UPSTREAM\nusers-api  users\n'
 */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_h, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Data as JSON or YAML; undefined for 'table' (the caller prints its own table). */
export function structured(data: unknown, output: Output): string | undefined {
  if (output === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (output === 'yaml') return stringify(data);
  return undefined;
}

/** Prints data as JSON/YAML on stdout when asked; returns true when it did (the caller then prints no table). */
export function printedStructured(data: unknown, output: Output | undefined): boolean {
  const text = structured(data, output ?? 'table');
  if (text === undefined) return false;
  process.stdout.write(text);
  return true;
}

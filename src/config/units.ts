// Human units in config: durations ("250ms", "5s", "1m30s") and sizes ("16KiB", "1MiB", "10MB").
// Both accept a bare number too (milliseconds / bytes) so generated configs need no string formatting.
import { z } from 'zod';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Parses "1m30s" into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_RE.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(DURATION_PART)) total += Number(amount) * DURATION_UNITS[unit!]!;
  return Math.round(total);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i;

/** Parses "1MiB" into bytes; undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

/** A duration in config, normalised to milliseconds. */
export const duration = z
  .union([z.number().nonnegative(), z.string()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value;
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${value}": use a number with a unit, e.g. 250ms, 5s, 1m30s` });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: 'A duration such as 250ms, 5s, 1m30s or 2h (a bare number is milliseconds).' });

/** A size in config, normalised to bytes. */
export const size = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value;
    const bytes = parseSize(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid size "${value}": use a number with a unit, e.g. 512KiB, 1MiB, 10MB` });
      return z.NEVER;
    }
    return bytes;
  })
  .meta({ description: 'A size such as 512B, 16KiB, 1MiB or 10MB (a bare number is bytes).' });

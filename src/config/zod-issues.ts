// Turns zod's issues into plain-English config problems: one message per mistake, no union noise.
import type { z } from 'zod';
import { didYouMean, suggestion } from './did-you-mean.ts';
import type { ConfigPath, ConfigProblem } from './problem.ts';
import { knownFields } from './schema-walk.ts';
import { duration, size } from './units.ts';

type Schema = z.core.$ZodType;
type Issue = z.core.$ZodIssue;

/** Stands in for a union's message until problemsFromIssues picks the branch the user meant; the last resort. */
const UNION_PENDING = 'matches none of the allowed forms';

const DURATION_UNION = (duration._zod.def as z.core.$ZodPipeDef).in;
const SIZE_UNION = (size._zod.def as z.core.$ZodPipeDef).in;

/**
 * Per-parse zod error map: plain English for every issue the schema has no message of its own for.
 *
 * @example
 * configSchema.safeParse(data, { error: friendlyError, reportInput: true });
 */
export const friendlyError: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required field is missing';
      if (issue.expected === 'int' && typeof issue.input === 'number') return `must be a whole number, got ${issue.input}`;
      return `expected ${noun(issue.expected)}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return mustBe(issue.values, issue.input);
    case 'too_small':
      return tooSmall(issue.origin, Number(issue.minimum), issue.inclusive !== false);
    case 'too_big':
      return tooBig(issue.origin, Number(issue.maximum), issue.inclusive !== false);
    case 'invalid_format':
      return invalidFormat(issue);
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_union':
      if (issue.inst === DURATION_UNION) return `expected a duration such as 250ms, 5s or 1m30s, got ${describeValue(issue.input)}`;
      if (issue.inst === SIZE_UNION) {
        if (typeof issue.input === 'number') return `a size in bytes must be a whole number, got ${issue.input} (or use a unit, e.g. 16KiB)`;
        return `expected a size such as 512KiB, 16KiB or 1MiB, got ${describeValue(issue.input)}`;
      }
      return UNION_PENDING;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return 'invalid value';
  }
};

/**
 * One problem per mistake, with paths relative to the config root. Needs issues from a parse with
 * `{ error: friendlyError, reportInput: true }`; `root` is the schema that was parsed, used for did-you-mean.
 */
export function problemsFromIssues(issues: readonly Issue[], root: Schema): ConfigProblem[] {
  return collect(issues, root, []).map(({ path, message, key }) => (key === undefined ? { path, message } : { path, message, key }));
}

/** A problem plus what echo removal needs to know. */
interface Found extends ConfigProblem {
  /** The required field this problem says is missing. */
  missing?: string;
  /** The field an unknown field was probably meant to be. */
  meant?: string;
}

function collect(issues: readonly Issue[], root: Schema, base: ConfigPath): Found[] {
  const found = issues.flatMap((issue) => fromIssue(issue, root, [...base, ...(issue.path as (string | number)[])]));
  // `upstrem: users` is one mistake: report the unknown field with its suggestion, not also the missing `upstream`.
  const meant = new Set(found.filter((f) => f.meant !== undefined).map((f) => `${JSON.stringify(f.path)}\0${f.meant}`));
  const seen = new Set<string>();
  return found.filter((f) => {
    if (f.missing !== undefined && meant.has(`${JSON.stringify(f.path)}\0${f.missing}`)) return false;
    const id = `${JSON.stringify(f.path)}\0${f.key ?? ''}\0${f.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function fromIssue(issue: Issue, root: Schema, path: ConfigPath): Found[] {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const fields = knownFields(root, path);
      // An entry of routes[].plugins is keyed by the plugin's name (plugins-schema.ts).
      const kind = path.at(-2) === 'plugins' ? 'plugin' : 'field';
      return issue.keys.map((key) => {
        const meant = didYouMean(key, fields);
        const hint = meant === undefined ? '' : ` (did you mean "${meant}"?)`;
        return { path, key, message: `unknown ${kind} "${key}"${hint}`, meant };
      });
    }
    case 'invalid_type':
      if (issue.input === undefined && path.length > 0) {
        const field = String(path.at(-1));
        return [{ path: path.slice(0, -1), message: `required field "${field}" is missing`, missing: field }];
      }
      break;
    case 'invalid_union':
      if (issue.message === UNION_PENDING && issue.errors.length > 0) return fromUnion(issue.errors, issue.input, root, path);
      break;
  }
  return [{ path, message: issue.message }];
}

/**
 * A value that fits no branch of a union. When it fails every branch on its type or value alone, say what would
 * fit; otherwise the user was writing one of the branches (say, a map with the right fields), so report that
 * branch's problems, picking the one with the fewest.
 */
function fromUnion(branches: readonly (readonly Issue[])[], input: unknown, root: Schema, path: ConfigPath): Found[] {
  const wrongShape = (branch: readonly Issue[]) =>
    branch.length > 0 && branch.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'));
  if (branches.every(wrongShape)) return [{ path, message: expectedOneOf(branches.flat(), input) }];
  let best: Found[] | undefined;
  for (const branch of branches) {
    if (wrongShape(branch)) continue;
    const found = collect(branch, root, path);
    if (best === undefined || found.length < best.length) best = found;
  }
  return best !== undefined && best.length > 0 ? best : [{ path, message: UNION_PENDING }];
}

function expectedOneOf(issues: readonly Issue[], input: unknown): string {
  const values = new Set<z.core.util.Primitive>();
  const nouns = new Set<string>();
  for (const issue of issues) {
    if (issue.code === 'invalid_value') for (const value of issue.values) values.add(value);
    if (issue.code === 'invalid_type') nouns.add(noun(issue.expected));
  }
  if (values.size > 0) return mustBe([...values], input, [...nouns]);
  return `expected ${joinOr([...nouns])}, got ${describeValue(input)}`;
}

function mustBe(values: readonly z.core.util.Primitive[], input: unknown, otherwise: readonly string[] = []): string {
  const alternatives = otherwise.length > 0 ? ` or ${joinOr(otherwise)}` : '';
  const head =
    values.length === 1
      ? `must be ${JSON.stringify(values[0])}${alternatives}`
      : `must be one of ${values.map(String).join(', ')}${alternatives === '' ? '' : `,${alternatives}`}`;
  const strings = values.filter((v): v is string => typeof v === 'string');
  return head + (typeof input === 'string' ? suggestion(input, strings) : '');
}

function tooSmall(origin: string, minimum: number, inclusive: boolean): string {
  if (origin === 'array' || origin === 'set') return `needs at least ${minimum} ${minimum === 1 ? 'entry' : 'entries'}`;
  if (origin === 'string') return minimum === 1 ? 'must not be empty' : `must be at least ${minimum} characters long`;
  if (minimum === 0 && inclusive) return 'must not be negative';
  return inclusive ? `must be at least ${minimum}` : `must be more than ${minimum}`;
}

function tooBig(origin: string, maximum: number, inclusive: boolean): string {
  if (origin === 'array' || origin === 'set') return `allows at most ${maximum} ${maximum === 1 ? 'entry' : 'entries'}`;
  if (origin === 'string') return `must be at most ${maximum} characters long`;
  return inclusive ? `must be at most ${maximum}` : `must be less than ${maximum}`;
}

function invalidFormat(issue: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidStringFormat>): string {
  switch (issue.format) {
    case 'starts_with':
      return `must start with "${String(issue.prefix)}"`;
    case 'ends_with':
      return `must end with "${String(issue.suffix)}"`;
    case 'includes':
      return `must contain "${String(issue.includes)}"`;
    case 'regex':
      return `must match the pattern ${issue.pattern ?? ''}`;
    default:
      return `must be a valid ${issue.format}`;
  }
}

const NOUNS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
  null: 'an empty value',
};

function noun(expected: string): string {
  return NOUNS[expected] ?? `a ${expected}`;
}

/** How a YAML value reads to the person who wrote it. */
function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

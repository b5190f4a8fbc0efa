// The published JSON Schema (schema/sluice.schema.json), generated from schema.ts: editors use it for completion
// and checking, and docs/config.md is rendered from it.
import { z } from 'zod';
import { configSchema } from './schema.ts';
import { duration, size } from './units.ts';

/** Where the schema says it lives; editors only need it to be a stable, unique URI. */
export const SCHEMA_ID = 'https://sluice.dev/schema/sluice.schema.json';

/** The keyword that `forDocs` adds to duration and size nodes; never written to the published schema. */
export const UNIT_KEYWORD = 'x-sluice-unit';

export type JsonSchema = Record<string, unknown>;

/**
 * The config's JSON Schema (draft 2020-12) for config as written: units as text, defaults as they would be typed.
 * `forDocs` adds what the reference needs and editors do not: UNIT_KEYWORD on duration and size fields, and the
 * defaults of lists whose entries hold durations (zod leaves those out of an input schema, since a `.default()`
 * is an output value; here the output equals the input: an empty list).
 *
 * @example
 * writeFileSync('schema/sluice.schema.json', JSON.stringify(configJsonSchema(), null, 2) + '\n');
 */
export function configJsonSchema(options: { forDocs?: boolean } = {}): JsonSchema {
  const generated = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-2020-12',
    override: options.forDocs
      ? (ctx) => {
          const json = ctx.jsonSchema as JsonSchema;
          if (ctx.zodSchema === duration) json[UNIT_KEYWORD] = 'duration';
          if (ctx.zodSchema === size) json[UNIT_KEYWORD] = 'size';
          const def = ctx.zodSchema._zod.def;
          if (def.type === 'default' && json.default === undefined) json.default = (def as z.core.$ZodDefaultDef).defaultValue;
        }
      : undefined,
  }) as JsonSchema;
  const { $schema, ...rest } = generated;
  return { $schema, $id: SCHEMA_ID, ...rest };
}

// Finds what the schema allows at a config path; used to suggest the field the user meant.
import type { z } from 'zod';
import type { ConfigPath } from './problem.ts';

type Schema = z.core.$ZodType;

/**
 * The field names the schema allows in the map at `path` (every branch of a union counts).
 *
 * @example
 * knownFields(configSchema, ['routes', 0, 'match']); // ['host', 'path', 'pathPrefix', …]
 */
export function knownFields(root: Schema, path: ConfigPath): string[] {
  let schemas = unwrap(root);
  for (const segment of path) schemas = schemas.flatMap((schema) => childrenOf(schema, segment)).flatMap(unwrap);
  const fields = new Set<string>();
  for (const schema of schemas) {
    if (schema._zod.def.type === 'object') for (const key of Object.keys((schema._zod.def as z.core.$ZodObjectDef).shape)) fields.add(key);
  }
  return [...fields];
}

/** The schemas a value may be checked against, looking through defaults, optionals, unions and transforms. */
function unwrap(schema: Schema): Schema[] {
  const def = schema._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return unwrap((def as z.core.$ZodOptionalDef).innerType);
    case 'pipe':
      return unwrap((def as z.core.$ZodPipeDef).in);
    case 'union':
      return (def as z.core.$ZodUnionDef).options.flatMap(unwrap);
    case 'lazy':
      return unwrap((def as z.core.$ZodLazyDef).getter());
    default:
      return [schema];
  }
}

function childrenOf(schema: Schema, segment: string | number): Schema[] {
  const def = schema._zod.def;
  switch (def.type) {
    case 'object': {
      const child = (def as z.core.$ZodObjectDef).shape[String(segment)];
      return child ? [child] : [];
    }
    case 'array':
      return typeof segment === 'number' ? [(def as z.core.$ZodArrayDef).element] : [];
    case 'record':
      return [(def as z.core.$ZodRecordDef).valueType];
    default:
      return [];
  }
}

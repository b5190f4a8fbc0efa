import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configJsonSchema, SCHEMA_ID, UNIT_KEYWORD } from './json-schema.ts';

describe('configJsonSchema', () => {
  test('is draft 2020-12 with an $id, describing config as written', () => {
    const schema = configJsonSchema();
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.$id, SCHEMA_ID);
    assert.deepEqual(Object.keys(schema).slice(0, 2), ['$schema', '$id']);
    const limits = (schema.properties as Record<string, { items: { properties: Record<string, { properties: Record<string, { default: unknown }> }> } }>)
      .listeners.items.properties.limits.properties;
    assert.equal(limits.headersTimeout?.default, '10s');
  });

  test('keeps documentation-only keywords out of the published schema', () => {
    assert.ok(!JSON.stringify(configJsonSchema()).includes(UNIT_KEYWORD));
    assert.ok(JSON.stringify(configJsonSchema({ forDocs: true })).includes(`"${UNIT_KEYWORD}":"duration"`));
  });
});

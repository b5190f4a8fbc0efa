// Header and redirect templates: parsed at load (a typo is a config error), joined per request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileTemplate } from '../plugins/template.ts';
import type { PluginContext } from '../plugins/api.ts';
import { parseTemplate } from './template.ts';

test('parses literals and references; $${ is a literal ${', () => {
  assert.deepEqual(parseTemplate('id=${consumer.id};h=${request.header.X-Tenant}'), [
    'id=', { variable: 'consumer.id', name: undefined }, ';h=', { variable: 'request.header', name: 'x-tenant' },
  ]);
  assert.deepEqual(parseTemplate('cost: $${price}'), ['cost: ${price}']);
});

test('an unknown variable or an unclosed reference is an error that says what would fit', () => {
  assert.match(parseTemplate('${consumer.nme}') as string, /unknown variable "consumer.nme".*consumer\.id/);
  assert.match(parseTemplate('${request.id') as string, /unclosed/);
});

test('a missing value leaves the whole value undefined, or (for redirects) its part empty', () => {
  const ctx = { consumer: undefined, requestId: 'r1', request: { headers: {} } } as unknown as PluginContext;
  assert.equal(compileTemplate('${request.id}/${consumer.id}')(ctx), undefined);
  assert.equal(compileTemplate('${request.id}/${consumer.id}', { missingAsEmpty: true })(ctx), 'r1/');
  const alice = { ...ctx, consumer: { id: 'alice', groups: ['a', 'b'], metadata: { plan: 'gold', limits: { rps: 5 } } } } as unknown as PluginContext;
  assert.equal(compileTemplate('${consumer.id}:${consumer.groups}:${consumer.metadata.plan}:${consumer.metadata.limits}')(alice), 'alice:a,b:gold:{"rps":5}');
});

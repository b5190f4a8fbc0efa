// The admin API's documentation cannot drift from the server: every route of the admin table (with its methods)
// is in docs/admin-api.openapi.yaml, and every error code the API answers with is in docs/admin-api.md.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ADMIN_ERRORS } from '../src/admin/api-errors.ts';
import type { AdminControl } from '../src/admin/control.ts';
import { adminRouteTable } from '../src/admin/server.ts';
import { REPO } from './helpers/process.ts';

const openapi = parse(readFileSync(join(REPO, 'docs', 'admin-api.openapi.yaml'), 'utf8')) as { openapi: string; paths: Record<string, Record<string, unknown>> };
// The table is only built here, never served: its handlers are not called.
const routes = adminRouteTable({} as AdminControl);

test('the OpenAPI file is 3.1', () => {
  assert.match(openapi.openapi, /^3\.1\./);
});

test('every admin route and method is in the OpenAPI file', () => {
  assert.ok(routes.length >= 13, `only ${routes.length} routes found`);
  for (const { path, methods } of routes) {
    const documented = openapi.paths[path.replace(/:(\w+)/g, '{$1}')];
    assert.ok(documented, `${path} is not in docs/admin-api.openapi.yaml`);
    for (const method of methods) assert.ok(documented[method.toLowerCase()], `${method} ${path} is not in docs/admin-api.openapi.yaml`);
  }
});

test('every admin route and error code is in docs/admin-api.md', () => {
  const doc = readFileSync(join(REPO, 'docs', 'admin-api.md'), 'utf8');
  for (const { path, methods } of routes) {
    for (const method of methods) assert.ok(doc.includes(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`), `${method} ${path} is not in docs/admin-api.md`);
  }
  for (const code of Object.keys(ADMIN_ERRORS)) assert.ok(doc.includes(`\`${code}\``), `error code ${code} is not in docs/admin-api.md`);
});

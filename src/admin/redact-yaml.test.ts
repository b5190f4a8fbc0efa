import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTokenFile } from './auth.ts';
import { redactYaml, restoreRedacted } from './redact-yaml.ts';

const source = `# gateway
upstreams:
  - name: app   # the app
    targets: [{ url: "http://svc:hunter2@10.0.0.1:80" }]
routes:
  - name: r
    requestHeaders:
      set: { authorization: Bearer abc, x-tenant: acme }
    password: 'p@ss'
`;

test('secrets are redacted in place: comments, order and quoting of the rest stay as written', () => {
  assert.equal(
    redactYaml(source),
    source
      .replace('svc:hunter2@', 'svc:[redacted]@')
      .replace('authorization: Bearer abc', 'authorization: "[redacted]"')
      .replace("password: 'p@ss'", "password: '[redacted]'"),
  );
  assert.equal(redactYaml('a: 1\n'), 'a: 1\n');
});

test('a redacted config sent back gets the running secrets back at the same paths', () => {
  const edited = redactYaml(source).replace('x-tenant: acme', 'x-tenant: other');
  const restored = restoreRedacted(edited, source);
  assert.deepEqual(restored, { ok: true, text: source.replace('x-tenant: acme', 'x-tenant: other').replace('authorization: Bearer abc', 'authorization: "Bearer abc"').replace("password: 'p@ss'", "password: 'p@ss'") });
});

test('a placeholder with no running value to keep is an error at its position', () => {
  const result = restoreRedacted('routes:\n  - name: r\n    token: "[redacted]"\n', 'routes: []\n');
  assert.equal(result.ok, false);
  assert.deepEqual(!result.ok && result.errors.map((e) => [e.line, e.column, e.path]), [[3, 12, 'routes[0].token']]);
});

test('token files: "name: token" lines, comments, a bare token named admin; short tokens refused', () => {
  const tokens = parseTokenFile('# tokens\nci: 0123456789abcdef0\n\n  0123456789abcdefXYZ  \n', 'tokens');
  assert.deepEqual(tokens.map((t) => t.name), ['ci', 'admin']);
  assert.throws(() => parseTokenFile('ci: short\n', 'tokens'), /tokens:1: an admin token needs at least 16 characters/);
  assert.throws(() => parseTokenFile('# nothing\n', 'tokens'), /no token/);
});

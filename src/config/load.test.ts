// Config loading, pinned by golden files: test/fixtures/config/<name>.yaml with either <name>.errors (the exact
// formatted errors, one per line) or <name>.json (the normalized config). SLUICE_UPDATE_GOLDEN=1 rewrites them;
// review the diff before keeping it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatConfigError, loadConfigFile, parseConfig } from './load.ts';

const FIXTURES = new URL('../../test/fixtures/config/', import.meta.url);
const UPDATE = process.env.SLUICE_UPDATE_GOLDEN === '1';

function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

function golden(name: string, actual: string): void {
  const file = new URL(name, FIXTURES);
  if (UPDATE) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs (SLUICE_UPDATE_GOLDEN=1 rewrites it)`);
}

describe('golden config files', () => {
  const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length));
  for (const name of names) {
    test(name, () => {
      // Every fixture is read as if it were the default config file, so goldens read like real output.
      const result = parseConfig(fixture(`${name}.yaml`), 'sluice.yaml');
      const expectsErrors = existsSync(new URL(`${name}.errors`, FIXTURES));
      const expectsConfig = existsSync(new URL(`${name}.json`, FIXTURES));
      assert.ok(expectsErrors || expectsConfig || UPDATE, `${name}.yaml needs ${name}.errors or ${name}.json beside it`);
      if (result.ok) {
        assert.ok(!expectsErrors, `${name}.yaml should fail to load`);
        golden(`${name}.json`, `${JSON.stringify(result.config, null, 2)}\n`);
      } else {
        assert.ok(!expectsConfig, `${name}.yaml should load, got:\n${result.errors.map(formatConfigError).join('\n')}`);
        golden(`${name}.errors`, `${result.errors.map(formatConfigError).join('\n')}\n`);
      }
    });
  }
});

describe('parseConfig', () => {
  test('reports the unknown upstream at its value, with a suggestion', () => {
    const result = parseConfig(fixture('unknown-upstream.yaml'), 'sluice.yaml');
    assert.equal(result.ok, false);
    assert.deepEqual(!result.ok && result.errors, [
      { file: 'sluice.yaml', line: 14, column: 15, path: 'routes[1].upstream', message: 'unknown upstream "userz" (did you mean "users"?)' },
    ]);
  });

  test('fills defaults and normalises units in the canonical config', () => {
    const result = parseConfig(fixture('canonical.yaml'), 'sluice.yaml');
    assert.ok(result.ok);
    const [users] = result.config.upstreams;
    assert.equal(users?.healthCheck?.interval, 5000);
    assert.equal(users?.connectTimeout, 5000);
    assert.deepEqual(users?.targets.map((t) => t.weight), [1, 2]);
    assert.equal(result.config.routes[0]?.timeout, 5000);
    const retries = result.config.routes[0]?.retries;
    assert.deepEqual({ attempts: retries?.attempts, on: retries?.on }, { attempts: 2, on: ['connect-failure', 503] });
    assert.deepEqual(result.config.routes[0]?.plugins, [
      { 'rate-limit': { rate: { count: 100, periodMs: 1000 }, burst: 50, key: 'client-ip', store: 'local', failureMode: 'open', headers: true } },
    ]);
    assert.equal(result.config.listeners[0]?.limits.maxHeaderSize, 16 * 1024);
    assert.equal(result.config.server.drainTimeout, 10_000);
    assert.equal(result.text, fixture('canonical.yaml'));
  });

  test('treats an empty file as all defaults', () => {
    for (const text of ['', '\n', '# only a comment\n', '---\n']) {
      const result = parseConfig(text, 'sluice.yaml');
      assert.ok(result.ok, JSON.stringify(text));
      assert.deepEqual(result.config.listeners.map((l) => l.address), ['0.0.0.0:8080']);
      assert.equal(result.config.listeners[0]?.limits.headersTimeout, 10_000);
      assert.equal(result.config.admin.address, '127.0.0.1:9901');
    }
  });

  test('deep-freezes the config', () => {
    const result = parseConfig(fixture('canonical.yaml'), 'sluice.yaml');
    assert.ok(result.ok);
    const { config } = result;
    for (const value of [config, config.routes, config.routes[0], config.routes[0]?.match, config.routes[0]?.match.methods,
      config.upstreams[0]?.targets[1], config.listeners[0]?.limits, config.server.trustedProxies]) {
      assert.ok(Object.isFrozen(value));
    }
    assert.throws(() => {
      (config.routes[0] as { upstream: string }).upstream = 'other';
    }, TypeError);
  });

  test('gives each parse its own config, never a shared default', () => {
    const a = parseConfig('', 'a.yaml');
    const b = parseConfig('', 'b.yaml');
    assert.ok(a.ok && b.ok);
    assert.notEqual(a.config.listeners, b.config.listeners);
  });

  test('reports all errors, in file order', () => {
    const result = parseConfig(fixture('several-errors.yaml'), 'sluice.yaml');
    assert.ok(!result.ok);
    assert.ok(result.errors.length >= 8);
    const positions = result.errors.map((e) => e.line * 1000 + e.column);
    assert.deepEqual(positions, [...positions].sort((x, y) => x - y));
  });

  test('rejects a document that is not a map', () => {
    const result = parseConfig('- listeners\n', 'sluice.yaml');
    assert.deepEqual(!result.ok && result.errors.map(formatConfigError), ['sluice.yaml:1:1: expected a map, got a list']);
  });

  test('reports an alias without its anchor', () => {
    const result = parseConfig('routes:\n  - *missing\n', 'sluice.yaml');
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]?.line, 2);
    assert.match(result.errors[0]!.message, /alias/);
  });

  test('follows anchors and merge keys', () => {
    const text = [
      'upstreams:',
      '  - name: users',
      '    targets: &targets',
      '      - url: http://127.0.0.1:3001',
      '  - name: orders',
      '    targets: *targets',
      'routes:',
      '  - &base { name: a, upstream: users, timeout: 2s }',
      '  - { <<: *base, name: b }',
    ].join('\n');
    const result = parseConfig(text, 'sluice.yaml');
    assert.ok(result.ok, !result.ok ? result.errors.map(formatConfigError).join('\n') : '');
    assert.equal(result.config.routes[1]?.timeout, 2000);
    assert.equal(result.config.upstreams[1]?.targets[0]?.url, 'http://127.0.0.1:3001');
  });
});

describe('formatConfigError', () => {
  test('prints file:line:column path: message', () => {
    const line = formatConfigError({ file: 'sluice.yaml', line: 14, column: 15, path: 'routes[1].upstream', message: 'unknown upstream "userz" (did you mean "users"?)' });
    assert.equal(line, 'sluice.yaml:14:15 routes[1].upstream: unknown upstream "userz" (did you mean "users"?)');
  });

  test('leaves out an empty path and an unknown position', () => {
    assert.equal(formatConfigError({ file: 'a.yaml', line: 2, column: 1, path: '', message: 'm' }), 'a.yaml:2:1: m');
    assert.equal(formatConfigError({ file: 'a.yaml', line: 0, column: 0, path: '', message: 'm' }), 'a.yaml: m');
  });
});

describe('loadConfigFile', () => {
  test('loads a file from disk', async () => {
    const result = await loadConfigFile(new URL('canonical.yaml', FIXTURES).pathname);
    assert.ok(result.ok);
    assert.equal(result.config.routes.length, 2);
  });

  test('reports a missing file at 0:0 with what to do', async () => {
    const result = await loadConfigFile('/nonexistent/sluice.yaml');
    assert.deepEqual(!result.ok && result.errors, [
      { file: '/nonexistent/sluice.yaml', line: 0, column: 0, path: '', message: 'cannot read: no such file; create it or pass -c FILE' },
    ]);
  });

  test('reports a directory at 0:0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    try {
      const result = await loadConfigFile(dir);
      assert.ok(!result.ok);
      assert.equal(result.errors[0]?.line, 0);
      assert.match(result.errors[0]!.message, /^cannot read: it is a directory/);
      await writeFile(join(dir, 'sluice.yaml'), 'routes: [\n');
      const broken = await loadConfigFile(join(dir, 'sluice.yaml'));
      assert.ok(!broken.ok && broken.errors[0]!.line > 0);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('YAML problems', () => {
  const cases: { desc: string; text: string; expected: string }[] = [
    { desc: 'a second document', text: 'routes: []\n---\nupstreams: []\n', expected: 'sluice.yaml:2:1: a config file holds one YAML document; remove the "---" that starts another' },
    { desc: 'an alias bomb', text: `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [${'*a,'.repeat(10)}]\nc: [${'*b,'.repeat(10)}]\n`, expected: 'sluice.yaml:1:1: excessive alias count indicates a resource exhaustion attack' },
    { desc: 'a repeated key', text: 'admin: {}\nadmin: {}\n', expected: 'sluice.yaml:2:1: duplicate key "admin" (first at line 1); each key may appear once in a map' },
  ];
  for (const { desc, text, expected } of cases) {
    test(desc, () => {
      const result = parseConfig(text, 'sluice.yaml');
      assert.deepEqual(!result.ok && result.errors.map(formatConfigError), [expected]);
    });
  }
});

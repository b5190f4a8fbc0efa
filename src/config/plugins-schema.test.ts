// Plugin entries in config: built-ins keep their settings; path and package entries learn where to be resolved
// from (the config file's directory, or their own `from` relative to it), so the config means the same in a worker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from './load.ts';

test('path and package entries are resolved from the config file\'s directory, or their own from', () => {
  const result = parseConfig(
    [
      'upstreams: [{ name: u, targets: [{ url: http://127.0.0.1:1 }] }]',
      'plugins:',
      '  - path: ./plugins/a.ts',
      '  - package: sluice-plugin-b',
      '    from: ../shared',
      '  - cors:',
      'routes: [{ name: r, upstream: u, plugins: [{ path: /opt/c.mjs, config: { x: 1 } }] }]',
    ].join('\n'),
    '/etc/sluice/sluice.yaml',
  );
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  const [a, b, cors] = result.config.plugins!;
  assert.deepEqual(a, { path: './plugins/a.ts', from: '/etc/sluice' });
  assert.deepEqual(b, { package: 'sluice-plugin-b', from: '/etc/shared' });
  assert.equal(cors!.cors?.origins[0], '*', '- cors: with nothing after it takes every default');
  assert.deepEqual(result.config.routes[0]!.plugins, [{ path: '/opt/c.mjs', config: { x: 1 }, from: '/etc/sluice' }]);
});

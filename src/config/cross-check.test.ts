import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crossCheck } from './cross-check.ts';
import { formatPath } from './problem.ts';

const users = { name: 'users', targets: [{ url: 'http://127.0.0.1:3001' }] };

/** The problems as "path: message" lines, which read well in a failing assertion. */
function check(config: unknown): string[] {
  return crossCheck(config).map((p) => `${formatPath(p.path)}: ${p.message}`);
}

interface Case {
  desc: string;
  config: unknown;
  expected: string[];
}

function table(cases: Case[]): void {
  for (const { desc, config, expected } of cases) test(desc, () => assert.deepEqual(check(config), expected));
}

describe('route references', () => {
  table([
    {
      desc: 'an unknown upstream gets a suggestion',
      config: { upstreams: [users], routes: [{ name: 'r', upstream: 'userz' }] },
      expected: ['routes[0].upstream: unknown upstream "userz" (did you mean "users"?)'],
    },
    {
      desc: 'an unknown upstream with no upstreams at all says so',
      config: { routes: [{ name: 'r', upstream: 'users' }] },
      expected: ['routes[0].upstream: unknown upstream "users" (no upstreams are defined)'],
    },
    {
      desc: 'an unknown listener gets a suggestion',
      config: { listeners: [{ name: 'public', address: ':8080' }], upstreams: [users], routes: [{ name: 'r', upstream: 'users', listeners: ['public', 'publik'] }] },
      expected: ['routes[0].listeners[1]: unknown listener "publik" (did you mean "public"?)'],
    },
    {
      desc: 'the default listener can be named when listeners are not set',
      config: { upstreams: [users], routes: [{ name: 'r', upstream: 'users', listeners: ['default'] }] },
      expected: [],
    },
  ]);
});

describe('unique names', () => {
  table([
    {
      desc: 'duplicates are reported on the second, per kind',
      config: {
        listeners: [{ name: 'a', address: ':1' }, { name: 'a', address: ':2' }],
        upstreams: [users, users],
        routes: [{ name: 'r', upstream: 'users' }, { name: 's', upstream: 'users' }, { name: 'r', upstream: 'users' }],
      },
      expected: [
        'listeners[1].name: duplicate listener name "a" (first defined at listeners[0].name)',
        'upstreams[1].name: duplicate upstream name "users" (first defined at upstreams[0].name)',
        'routes[2].name: duplicate route name "r" (first defined at routes[0].name)',
      ],
    },
    {
      desc: 'a route and an upstream may share a name',
      config: { upstreams: [users], routes: [{ name: 'users', upstream: 'users' }] },
      expected: [],
    },
  ]);

  test('the first one is named by line when lines are known', () => {
    const problems = crossCheck({ routes: [{ name: 'r' }, { name: 'r' }] }, (path) => (path[1] === 0 ? 7 : undefined));
    assert.equal(problems[0]?.message, 'duplicate route name "r" (first defined at line 7)');
  });
});

describe('listener addresses', () => {
  const listeners = (...addresses: string[]) => addresses.map((address, i) => ({ name: `l${i}`, address }));
  table([
    {
      desc: 'the same host and port',
      config: { listeners: listeners('127.0.0.1:8080', '127.0.0.1:8080') },
      expected: ['listeners[1].address: 127.0.0.1:8080 is already used by listener "l0" (listeners[0].address)'],
    },
    {
      desc: 'a wildcard host after a specific one on the same port',
      config: { listeners: listeners('127.0.0.1:8080', '0.0.0.0:8080') },
      expected: ['listeners[1].address: 0.0.0.0:8080 overlaps listener "l0" on 127.0.0.1:8080 (listeners[0].address)'],
    },
    {
      desc: 'a specific host after a wildcard, IPv6 and empty wildcards included',
      config: { listeners: listeners('[::]:80', '[::1]:80', ':81', '10.0.0.1:81') },
      expected: [
        'listeners[1].address: [::1]:80 overlaps listener "l0" on [::]:80 (listeners[0].address)',
        'listeners[3].address: 10.0.0.1:81 overlaps listener "l2" on :81 (listeners[2].address)',
      ],
    },
    {
      desc: 'different ports, different specific hosts and port 0 never overlap',
      config: { listeners: listeners('127.0.0.1:8080', '127.0.0.1:8081', '10.0.0.1:8080', '127.0.0.1:0', '127.0.0.1:0', ':0') },
      expected: [],
    },
    {
      desc: 'a port out of range',
      config: { listeners: listeners(':65536') },
      expected: ['listeners[0].address: port 65536 is out of range: use 1-65535, or 0 for any free port'],
    },
    {
      desc: 'the admin address colliding with a listener',
      config: { listeners: listeners('0.0.0.0:8080'), admin: { address: '127.0.0.1:8080' } },
      expected: ['admin.address: 127.0.0.1:8080 overlaps listener "l0" on 0.0.0.0:8080 (listeners[0].address)'],
    },
    {
      desc: 'a listener on the default admin address',
      config: { listeners: listeners(':9901') },
      expected: [':9901 overlaps the admin server on 127.0.0.1:9901 (its default; set admin.address to move it)'].map((m) => `listeners[0].address: ${m}`),
    },
    {
      desc: 'the admin address on the default listener',
      config: { admin: { address: '127.0.0.1:8080' } },
      expected: ['admin.address: 127.0.0.1:8080 overlaps listener "default" on 0.0.0.0:8080 (the default when listeners is not set)'],
    },
  ]);
});

describe('path matching and rewriting', () => {
  const route = (extra: object) => ({ upstreams: [users], routes: [{ name: 'r', upstream: 'users', ...extra }] });
  table([
    {
      desc: 'stripPrefix that starts pathPrefix on a segment boundary',
      config: route({ match: { pathPrefix: '/api/users' }, stripPrefix: '/api' }),
      expected: [],
    },
    { desc: 'stripPrefix with a trailing slash', config: route({ match: { pathPrefix: '/api/users' }, stripPrefix: '/api/' }), expected: [] },
    { desc: 'stripPrefix equal to pathPrefix', config: route({ match: { pathPrefix: '/api' }, stripPrefix: '/api' }), expected: [] },
    { desc: 'stripPrefix without pathPrefix', config: route({ match: { path: '/a/b' }, stripPrefix: '/a' }), expected: [] },
    {
      desc: 'stripPrefix elsewhere',
      config: route({ match: { pathPrefix: '/api' }, stripPrefix: '/x' }),
      expected: ["routes[0].stripPrefix: stripPrefix /x does not start the route's pathPrefix /api"],
    },
    {
      desc: 'stripPrefix ending mid-segment',
      config: route({ match: { pathPrefix: '/apis' }, stripPrefix: '/api' }),
      expected: ["routes[0].stripPrefix: stripPrefix /api does not start the route's pathPrefix /apis"],
    },
    {
      desc: 'rewrite.prefix needs a pathPrefix to replace',
      config: route({ match: { pathRegex: '^/a' }, rewrite: { prefix: '/b' } }),
      expected: ['routes[0].rewrite.prefix: rewrite.prefix replaces the matched prefix, so the route needs match.pathPrefix'],
    },
    { desc: 'rewrite.prefix with a pathPrefix', config: route({ match: { pathPrefix: '/a' }, rewrite: { prefix: '/b' } }), expected: [] },
    {
      desc: 'every regex must compile',
      config: route({
        match: { pathRegex: '(', headers: { 'x-a': { regex: '[' }, 'x-b': 'plain (' }, query: { q: { regex: '+' } } },
        rewrite: { regex: '(?<n>a)(?<n>b)', replacement: '$1' },
      }),
      expected: [
        'routes[0].match.pathRegex: invalid regular expression: /(/: Unterminated group',
        'routes[0].match.headers.x-a.regex: invalid regular expression: /[/: Unterminated character class',
        'routes[0].match.query.q.regex: invalid regular expression: /+/: Nothing to repeat',
        'routes[0].rewrite.regex: invalid regular expression: /(?<n>a)(?<n>b)/: Duplicate capture group name',
      ],
    },
  ]);
});

describe('upstreams and server', () => {
  table([
    {
      desc: 'duplicate targets, ignoring case, a trailing slash and default ports',
      config: {
        upstreams: [{
          name: 'u',
          targets: [{ url: 'http://a:3001' }, { url: 'http://A:3001/' }, { url: 'http://b' }, { url: 'http://b:80' }, { url: 'https://b' }],
        }],
      },
      expected: [
        'upstreams[0].targets[1].url: duplicate target http://A:3001/ (first listed at upstreams[0].targets[0].url); use weight to send it more traffic',
        'upstreams[0].targets[3].url: duplicate target http://b:80 (first listed at upstreams[0].targets[2].url); use weight to send it more traffic',
      ],
    },
    {
      desc: 'the same target in two upstreams is fine',
      config: { upstreams: [users, { ...users, name: 'other' }] },
      expected: [],
    },
    {
      desc: 'hashOn without consistent-hash and expected statuses are fine',
      config: { upstreams: [{ ...users, loadBalancer: 'round-robin', hashOn: { header: 'x-user' }, healthCheck: { expectedStatuses: [200, 204] } }] },
      expected: [],
    },
    {
      desc: 'trusted proxies must be addresses or CIDR ranges',
      config: { server: { trustedProxies: ['10.0.0.0/8', '192.168.1.10', '::1', 'fd00::/8', '10.0.0.0/33', 'fd00::/129', 'proxy.internal', '10.0.0.1/', '1.2.3.4/8/8'] } },
      expected: ['10.0.0.0/33', 'fd00::/129', 'proxy.internal', '10.0.0.1/', '1.2.3.4/8/8'].map(
        (entry, i) => `server.trustedProxies[${i + 4}]: "${entry}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, 192.168.1.10 or ::1)`,
      ),
    },
  ]);
});

describe('robustness', () => {
  test('reads malformed configs without throwing, checking what it can', () => {
    for (const config of [null, undefined, 42, 'text', [], { listeners: 'x', upstreams: {}, routes: [null, 3, { match: 'x', rewrite: [] }] },
      { listeners: [{ address: 5 }, null], admin: 'x', server: { trustedProxies: [1, null] } }]) {
      assert.doesNotThrow(() => crossCheck(config), JSON.stringify(config));
    }
  });

  test('the canonical config has no problems', () => {
    const config = {
      listeners: [{ name: 'public', address: '127.0.0.1:8080' }],
      upstreams: [{ name: 'users', targets: [{ url: 'http://127.0.0.1:3001' }, { url: 'http://127.0.0.1:3002', weight: 2 }] }],
      routes: [
        { name: 'users-api', match: { pathPrefix: '/api/users', methods: ['GET', 'POST'] }, upstream: 'users', stripPrefix: '/api' },
        { name: 'users-canary', match: { pathPrefix: '/api/users', headers: { 'x-env': 'canary' } }, upstream: 'users' },
      ],
      admin: { address: '127.0.0.1:9901' },
    };
    assert.deepEqual(crossCheck(config), []);
  });
});

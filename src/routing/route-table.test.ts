import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteMatchConfig } from '../config/schema.ts';
import { compileRouteTable, hostWithoutPort, type RouteRequest } from './route-table.ts';

type Routes = ReadonlyArray<readonly [name: string, match: RouteMatchConfig]>;

interface MatchCase {
  desc: string;
  routes: Routes;
  req: Partial<RouteRequest>;
  want: string | undefined;
}

function request(req: Partial<RouteRequest>): RouteRequest {
  return { method: 'GET', host: '', path: '/', query: '', headers: {}, ...req };
}

function table(routes: Routes) {
  return compileRouteTable(routes.map(([name, match]) => ({ match, value: name })));
}

function runCases(cases: MatchCase[]): void {
  for (const c of cases) {
    it(c.desc, () => {
      assert.equal(table(c.routes).match(request(c.req)), c.want);
    });
  }
}

describe('path precedence: exact > prefix (longest first) > regex', () => {
  const routes: Routes = [
    ['regex', { pathRegex: '/api/.*' }],
    ['short-prefix', { pathPrefix: '/api' }],
    ['long-prefix', { pathPrefix: '/api/users' }],
    ['exact', { path: '/api/users/me' }],
  ];
  runCases([
    { desc: 'exact path beats prefixes and regexes declared earlier', routes, req: { path: '/api/users/me' }, want: 'exact' },
    { desc: 'longer prefix beats shorter prefix declared earlier', routes, req: { path: '/api/users/42' }, want: 'long-prefix' },
    { desc: 'prefix beats a regex declared earlier', routes, req: { path: '/api/orders' }, want: 'short-prefix' },
    { desc: 'regex serves what no exact path or prefix covers', routes: [['exact', { path: '/a' }], ['regex', { pathRegex: '/b/[0-9]+' }]], req: { path: '/b/7' }, want: 'regex' },
    { desc: 'regexes are tried in declared order', routes: [['first', { pathRegex: '/v[0-9]+/.*' }], ['second', { pathRegex: '/v1/.*' }]], req: { path: '/v1/x' }, want: 'first' },
    { desc: 'a catch-all prefix "/" is tried before regexes', routes: [['regex', { pathRegex: '/x' }], ['catch-all', { pathPrefix: '/' }]], req: { path: '/x' }, want: 'catch-all' },
    { desc: 'a route without a path spec behaves as prefix "/"', routes: [['regex', { pathRegex: '/x' }], ['no-path', {}]], req: { path: '/x' }, want: 'no-path' },
    { desc: 'path precedence comes before predicate count', routes: [['prefix-with-predicates', { pathPrefix: '/a', methods: ['GET'], headers: { 'x-a': { present: true } } }], ['exact', { path: '/a' }]], req: { path: '/a', headers: { 'x-a': '1' } }, want: 'exact' },
    { desc: 'no route matches: undefined', routes: [['exact', { path: '/a' }]], req: { path: '/b' }, want: undefined },
    { desc: 'an empty table matches nothing', routes: [], req: { path: '/' }, want: undefined },
  ]);
});

describe('prefix segment boundaries and trailing slashes', () => {
  const api: Routes = [['api', { pathPrefix: '/api' }]];
  const apiSlash: Routes = [['api/', { pathPrefix: '/api/' }]];
  runCases([
    { desc: '"/api" matches "/api" itself', routes: api, req: { path: '/api' }, want: 'api' },
    { desc: '"/api" matches "/api/"', routes: api, req: { path: '/api/' }, want: 'api' },
    { desc: '"/api" matches "/api/x/y"', routes: api, req: { path: '/api/x/y' }, want: 'api' },
    { desc: '"/api" does not match "/apix"', routes: api, req: { path: '/apix' }, want: undefined },
    { desc: '"/api" does not match "/apix/y"', routes: api, req: { path: '/apix/y' }, want: undefined },
    { desc: '"/api" does not match "/ap"', routes: api, req: { path: '/ap' }, want: undefined },
    { desc: '"/api/" matches "/api/"', routes: apiSlash, req: { path: '/api/' }, want: 'api/' },
    { desc: '"/api/" matches "/api/x"', routes: apiSlash, req: { path: '/api/x' }, want: 'api/' },
    { desc: '"/api/" does not match "/api"', routes: apiSlash, req: { path: '/api' }, want: undefined },
    { desc: '"/" matches every path', routes: [['root', { pathPrefix: '/' }]], req: { path: '/any/thing/at/all' }, want: 'root' },
    { desc: '"/api/v1" does not match "/api/v10"', routes: [['v1', { pathPrefix: '/api/v1' }], ['api', { pathPrefix: '/api' }]], req: { path: '/api/v10' }, want: 'api' },
    { desc: '"/api/" is longer than "/api" and wins under it', routes: [['api', { pathPrefix: '/api' }], ['api/', { pathPrefix: '/api/' }]], req: { path: '/api/x' }, want: 'api/' },
    { desc: '"/api" serves "/api" when "/api/" is also declared', routes: [['api/', { pathPrefix: '/api/' }], ['api', { pathPrefix: '/api' }]], req: { path: '/api' }, want: 'api' },
    { desc: 'the whole path can equal the longest prefix', routes: [['short', { pathPrefix: '/a' }], ['long', { pathPrefix: '/a/b/c' }]], req: { path: '/a/b/c' }, want: 'long' },
    { desc: 'exact path "/api" does not match "/api/"', routes: [['exact', { path: '/api' }]], req: { path: '/api/' }, want: undefined },
    { desc: 'a prefix whose predicates fail falls back to a shorter prefix', routes: [['short', { pathPrefix: '/a' }], ['long', { pathPrefix: '/a/b', methods: ['POST'] }]], req: { path: '/a/b/c' }, want: 'short' },
  ]);
});

describe('regexes match the whole value', () => {
  runCases([
    { desc: 'pathRegex is anchored at the start', routes: [['v', { pathRegex: '/v[0-9]+' }]], req: { path: '/x/v1' }, want: undefined },
    { desc: 'pathRegex is anchored at the end', routes: [['v', { pathRegex: '/v[0-9]+' }]], req: { path: '/v1/x' }, want: undefined },
    { desc: 'pathRegex matching the whole path', routes: [['v', { pathRegex: '/v[0-9]+' }]], req: { path: '/v12' }, want: 'v' },
    { desc: 'an alternation is anchored as a whole', routes: [['alt', { pathRegex: '/a|/b' }]], req: { path: '/a/x' }, want: undefined },
    { desc: 'an alternation matches either branch whole', routes: [['alt', { pathRegex: '/a|/b' }]], req: { path: '/b' }, want: 'alt' },
    { desc: 'a header regex must match the whole value', routes: [['h', { headers: { 'x-tier': { regex: 'gold|silver' } } }]], req: { headers: { 'x-tier': 'golden' } }, want: undefined },
    { desc: 'a query regex must match the whole value', routes: [['q', { query: { id: { regex: '[0-9]+' } } }]], req: { query: 'id=12a' }, want: undefined },
  ]);
});

describe('hosts: exact > longer wildcard > shorter wildcard > any host, with fallback', () => {
  const routes: Routes = [
    ['any', {}],
    ['wild', { host: '*.example.com' }],
    ['wild-deep', { host: '*.eu.example.com' }],
    ['exact', { host: 'api.example.com' }],
  ];
  runCases([
    { desc: 'exact host beats wildcards and any-host routes', routes, req: { host: 'api.example.com' }, want: 'exact' },
    { desc: 'wildcard matches one label', routes, req: { host: 'web.example.com' }, want: 'wild' },
    { desc: 'wildcard matches several labels', routes, req: { host: 'a.b.example.com' }, want: 'wild' },
    { desc: 'longer wildcard suffix beats shorter', routes, req: { host: 'x.eu.example.com' }, want: 'wild-deep' },
    { desc: 'wildcard does not match the bare domain', routes, req: { host: 'example.com' }, want: 'any' },
    { desc: 'wildcard "*.eu.example.com" does not match "eu.example.com"', routes, req: { host: 'eu.example.com' }, want: 'wild' },
    { desc: 'unknown host goes to the any-host routes', routes, req: { host: 'other.org' }, want: 'any' },
    { desc: 'request without host goes to the any-host routes', routes, req: { host: '' }, want: 'any' },
    { desc: 'host-only routes do not serve other hosts', routes: [['exact', { host: 'api.example.com' }]], req: { host: 'www.example.com' }, want: undefined },
    { desc: 'config host names are case-insensitive', routes: [['exact', { host: 'API.Example.COM' }]], req: { host: 'api.example.com' }, want: 'exact' },
    { desc: 'a port in a config host is ignored', routes: [['exact', { host: 'api.example.com:8443' }]], req: { host: 'api.example.com' }, want: 'exact' },
    { desc: 'a route may list several hosts', routes: [['multi', { host: ['a.example.com', '*.b.example.com'] }]], req: { host: 'x.b.example.com' }, want: 'multi' },
    { desc: 'host "*" means any host', routes: [['star', { host: '*' }]], req: { host: 'whatever.org' }, want: 'star' },
    { desc: 'exact host whose paths do not match falls back to the wildcard', routes: [['exact', { host: 'api.example.com', pathPrefix: '/v2' }], ['wild', { host: '*.example.com', pathPrefix: '/v1' }]], req: { host: 'api.example.com', path: '/v1/x' }, want: 'wild' },
    { desc: 'host bucket whose paths do not match falls back to a catch-all', routes: [['exact', { host: 'api.example.com', path: '/only' }], ['catch-all', {}]], req: { host: 'api.example.com', path: '/other' }, want: 'catch-all' },
    { desc: 'host bucket whose predicates fail falls back to any host', routes: [['exact', { host: 'api.example.com', methods: ['POST'] }], ['catch-all', {}]], req: { host: 'api.example.com', method: 'GET' }, want: 'catch-all' },
    { desc: 'a less specific host is used only after the whole bucket fails', routes: [['any-exact', { path: '/x' }], ['host-prefix', { host: 'api.example.com', pathPrefix: '/' }]], req: { host: 'api.example.com', path: '/x' }, want: 'host-prefix' },
    { desc: 'request host with a port, reduced by hostWithoutPort', routes, req: { host: hostWithoutPort('API.example.com:8443') }, want: 'exact' },
  ]);
});

describe('hostWithoutPort', () => {
  const cases: Array<{ desc: string; in: string | undefined; want: string }> = [
    { desc: 'absent host is ""', in: undefined, want: '' },
    { desc: 'empty host is ""', in: '', want: '' },
    { desc: 'lower-cases', in: 'API.Example.COM', want: 'api.example.com' },
    { desc: 'strips the port', in: 'example.com:8080', want: 'example.com' },
    { desc: 'keeps IPv6 brackets and strips the port', in: '[::1]:8080', want: '[::1]' },
    { desc: 'IPv6 without port', in: '[FE80::1]', want: '[fe80::1]' },
    { desc: 'bare IPv6 literal is kept whole', in: '::1', want: '::1' },
    { desc: 'IPv4 with port', in: '127.0.0.1:9000', want: '127.0.0.1' },
    { desc: 'trailing root dot is dropped', in: 'example.com.:80', want: 'example.com' },
  ];
  for (const c of cases) it(c.desc, () => assert.equal(hostWithoutPort(c.in), c.want));
});

describe('methods', () => {
  const routes: Routes = [
    ['write', { pathPrefix: '/api', methods: ['POST', 'PUT'] }],
    ['read', { pathPrefix: '/api', methods: ['GET'] }],
  ];
  runCases([
    { desc: 'a listed method matches', routes, req: { path: '/api', method: 'PUT' }, want: 'write' },
    { desc: 'an unlisted method falls through to the next route', routes, req: { path: '/api', method: 'GET' }, want: 'read' },
    { desc: 'GET does not imply HEAD', routes, req: { path: '/api', method: 'HEAD' }, want: undefined },
    { desc: 'methods absent means any method', routes: [['any', {}]], req: { method: 'PATCH' }, want: 'any' },
  ]);
});

describe('header predicates', () => {
  const one = (name: string, match: RouteMatchConfig): Routes => [[name, match], ['fallback', {}]];
  runCases([
    { desc: 'plain value is an exact match', routes: one('h', { headers: { 'x-env': 'canary' } }), req: { headers: { 'x-env': 'canary' } }, want: 'h' },
    { desc: 'exact values are case-sensitive', routes: one('h', { headers: { 'x-env': 'canary' } }), req: { headers: { 'x-env': 'Canary' } }, want: 'fallback' },
    { desc: '{ exact } matches the same value', routes: one('h', { headers: { 'x-env': { exact: 'canary' } } }), req: { headers: { 'x-env': 'canary' } }, want: 'h' },
    { desc: 'config header names are case-insensitive', routes: one('h', { headers: { 'X-Env': 'canary' } }), req: { headers: { 'x-env': 'canary' } }, want: 'h' },
    { desc: '{ prefix } matches the start of the value', routes: one('h', { headers: { authorization: { prefix: 'Bearer ' } } }), req: { headers: { authorization: 'Bearer abc' } }, want: 'h' },
    { desc: '{ prefix } rejects other values', routes: one('h', { headers: { authorization: { prefix: 'Bearer ' } } }), req: { headers: { authorization: 'Basic abc' } }, want: 'fallback' },
    { desc: '{ regex } matches the whole value', routes: one('h', { headers: { 'x-tier': { regex: 'gold|silver' } } }), req: { headers: { 'x-tier': 'silver' } }, want: 'h' },
    { desc: '{ present: true } matches any value, even empty', routes: one('h', { headers: { 'x-debug': { present: true } } }), req: { headers: { 'x-debug': '' } }, want: 'h' },
    { desc: '{ present: true } rejects an absent header', routes: one('h', { headers: { 'x-debug': { present: true } } }), req: { headers: {} }, want: 'fallback' },
    { desc: '{ present: false } matches an absent header', routes: one('h', { headers: { 'x-debug': { present: false } } }), req: { headers: {} }, want: 'h' },
    { desc: '{ present: false } rejects a present header', routes: one('h', { headers: { 'x-debug': { present: false } } }), req: { headers: { 'x-debug': '1' } }, want: 'fallback' },
    { desc: 'exact on an absent header fails', routes: one('h', { headers: { 'x-env': 'canary' } }), req: { headers: {} }, want: 'fallback' },
    { desc: 'multi-valued header matches if any value matches', routes: one('h', { headers: { 'set-cookie': { prefix: 'b=' } } }), req: { headers: { 'set-cookie': ['a=1', 'b=2'] } }, want: 'h' },
    { desc: 'multi-valued header fails if no value matches', routes: one('h', { headers: { 'set-cookie': { prefix: 'c=' } } }), req: { headers: { 'set-cookie': ['a=1', 'b=2'] } }, want: 'fallback' },
    { desc: 'every header predicate must match', routes: one('h', { headers: { 'x-a': '1', 'x-b': '2' } }), req: { headers: { 'x-a': '1', 'x-b': '3' } }, want: 'fallback' },
  ]);
});

describe('cookie predicates', () => {
  const one = (name: string, match: RouteMatchConfig): Routes => [[name, match], ['fallback', {}]];
  runCases([
    { desc: 'plain value is an exact match on that cookie', routes: one('c', { cookies: { canary: 'true' } }), req: { headers: { cookie: 'session=abc; canary=true' } }, want: 'c' },
    { desc: 'another value fails', routes: one('c', { cookies: { canary: 'true' } }), req: { headers: { cookie: 'canary=false' } }, want: 'fallback' },
    { desc: 'no Cookie header fails', routes: one('c', { cookies: { canary: 'true' } }), req: { headers: {} }, want: 'fallback' },
    { desc: 'a value is not a name: "x=canary" does not match the cookie canary', routes: one('c', { cookies: { canary: { present: true } } }), req: { headers: { cookie: 'x=canary' } }, want: 'fallback' },
    { desc: 'spaces around pairs are ignored', routes: one('c', { cookies: { b: '2' } }), req: { headers: { cookie: 'a=1 ;  b=2 ' } }, want: 'c' },
    { desc: 'the first of a repeated name wins (RFC 6265 §5.4)', routes: one('c', { cookies: { v: 'new' } }), req: { headers: { cookie: 'v=old; v=new' } }, want: 'fallback' },
    { desc: 'cookie names are case-sensitive', routes: one('c', { cookies: { Canary: 'true' } }), req: { headers: { cookie: 'canary=true' } }, want: 'fallback' },
    { desc: '{ prefix } on a cookie value', routes: one('c', { cookies: { user: { prefix: 'beta-' } } }), req: { headers: { cookie: 'user=beta-42' } }, want: 'c' },
    { desc: '{ present: false } matches a request without it', routes: one('c', { cookies: { optout: { present: false } } }), req: { headers: { cookie: 'a=1' } }, want: 'c' },
    { desc: 'a cookie predicate outranks a methods list on the same path', routes: [['m', { methods: ['GET'] }], ['c', { cookies: { canary: 'true' } }]], req: { headers: { cookie: 'canary=true' } }, want: 'c' },
  ]);
});

describe('query predicates', () => {
  const one = (name: string, match: RouteMatchConfig): Routes => [[name, match], ['fallback', {}]];
  runCases([
    { desc: 'plain value is an exact match', routes: one('q', { query: { tag: 'a' } }), req: { query: 'tag=a' }, want: 'q' },
    { desc: 'a different value fails', routes: one('q', { query: { tag: 'a' } }), req: { query: 'tag=b' }, want: 'fallback' },
    { desc: 'a repeated parameter matches if any value matches', routes: one('q', { query: { tag: 'a' } }), req: { query: 'tag=b&tag=a' }, want: 'q' },
    { desc: 'percent-encoded values are decoded', routes: one('q', { query: { q: 'a b/c' } }), req: { query: 'q=a%20b%2Fc' }, want: 'q' },
    { desc: '"+" decodes to a space', routes: one('q', { query: { q: 'a b' } }), req: { query: 'q=a+b' }, want: 'q' },
    { desc: 'encoded names are decoded', routes: one('q', { query: { 'a b': '1' } }), req: { query: 'a%20b=1' }, want: 'q' },
    { desc: 'query names are case-sensitive', routes: one('q', { query: { tag: 'a' } }), req: { query: 'TAG=a' }, want: 'fallback' },
    { desc: '{ prefix } on a query value', routes: one('q', { query: { v: { prefix: '2' } } }), req: { query: 'v=2.1' }, want: 'q' },
    { desc: '{ regex } on a query value', routes: one('q', { query: { id: { regex: '[0-9]+' } } }), req: { query: 'id=42' }, want: 'q' },
    { desc: '{ present: true } with an empty value', routes: one('q', { query: { debug: { present: true } } }), req: { query: 'debug' }, want: 'q' },
    { desc: '{ present: false } with the parameter absent', routes: one('q', { query: { debug: { present: false } } }), req: { query: 'x=1' }, want: 'q' },
    { desc: '{ present: false } with the parameter present', routes: one('q', { query: { debug: { present: false } } }), req: { query: 'debug=0' }, want: 'fallback' },
    { desc: 'an empty query fails an exact predicate', routes: one('q', { query: { tag: 'a' } }), req: { query: '' }, want: 'fallback' },
  ]);

  it('parses the query only when a route with query predicates is reached, and once per request', () => {
    const Original = globalThis.URLSearchParams;
    let parses = 0;
    globalThis.URLSearchParams = class extends Original {
      constructor(init?: string) {
        super(init);
        parses++;
      }
    };
    try {
      const routes = table([
        ['exact', { path: '/plain' }],
        ['q1', { pathPrefix: '/q', query: { a: '1', b: '2' } }],
        ['q2', { pathPrefix: '/q', query: { a: '1' }, headers: { 'x-nope': 'x' } }],
        ['q3', { pathPrefix: '/q', query: { c: '3' } }],
      ]);
      assert.equal(routes.match(request({ path: '/plain', query: 'a=1' })), 'exact');
      assert.equal(parses, 0);
      assert.equal(routes.match(request({ path: '/q', query: 'c=3' })), 'q3');
      assert.equal(parses, 1);
      assert.equal(routes.match(request({ path: '/q', query: 'a=1&b=2' })), 'q1');
      assert.equal(parses, 2);
    } finally {
      globalThis.URLSearchParams = Original;
    }
  });
});

describe('ties: more predicates first, then declared order', () => {
  runCases([
    { desc: 'same path spec: first declared wins', routes: [['first', { pathPrefix: '/a' }], ['second', { pathPrefix: '/a' }]], req: { path: '/a' }, want: 'first' },
    { desc: 'same path spec: more predicates wins though declared later', routes: [['plain', { pathPrefix: '/a' }], ['canary', { pathPrefix: '/a', headers: { 'x-env': 'canary' } }]], req: { path: '/a', headers: { 'x-env': 'canary' } }, want: 'canary' },
    { desc: 'methods count as one predicate', routes: [['plain', { path: '/a' }], ['get', { path: '/a', methods: ['GET'] }]], req: { path: '/a' }, want: 'get' },
    { desc: 'two predicates beat one', routes: [['one', { path: '/a', headers: { 'x-a': '1' } }], ['two', { path: '/a', headers: { 'x-a': '1' }, query: { b: '2' } }]], req: { path: '/a', query: 'b=2', headers: { 'x-a': '1' } }, want: 'two' },
    { desc: 'the more specific route falls through when its predicates fail', routes: [['plain', { pathPrefix: '/a' }], ['canary', { pathPrefix: '/a', headers: { 'x-env': 'canary' } }]], req: { path: '/a/b' }, want: 'plain' },
    { desc: 'equal predicate counts keep declared order', routes: [['h', { path: '/a', headers: { 'x-a': { present: true } } }], ['q', { path: '/a', query: { b: { present: true } } }]], req: { path: '/a', query: 'b', headers: { 'x-a': '' } }, want: 'h' },
    { desc: 'the same regex source: more predicates first', routes: [['plain', { pathRegex: '/r.*' }], ['post', { pathRegex: '/r.*', methods: ['POST'] }]], req: { path: '/rx', method: 'POST' }, want: 'post' },
    { desc: 'a header predicate (2) outranks a methods list (1): the design example\'s canary wins though declared later', routes: [['users-api', { pathPrefix: '/api/users', methods: ['GET', 'POST'] }], ['users-canary', { pathPrefix: '/api/users', headers: { 'x-env': 'canary' } }]], req: { path: '/api/users/1', headers: { 'x-env': 'canary' } }, want: 'users-canary' },
    { desc: 'without the header the design example falls to users-api', routes: [['users-api', { pathPrefix: '/api/users', methods: ['GET', 'POST'] }], ['users-canary', { pathPrefix: '/api/users', headers: { 'x-env': 'canary' } }]], req: { path: '/api/users/1' }, want: 'users-api' },
    { desc: 'equal specificity keeps declared order', routes: [['first', { pathPrefix: '/a', headers: { 'x-a': '1' } }], ['second', { pathPrefix: '/a', query: { b: '1' } }]], req: { path: '/a', query: 'b=1', headers: { 'x-a': '1' } }, want: 'first' },
  ]);
});

describe('the README precedence example', () => {
  const routes: Routes = [
    ['catch-all', {}],
    ['api', { pathPrefix: '/api' }],
    ['api-get', { pathPrefix: '/api', methods: ['GET'] }],
    ['canary', { pathPrefix: '/api', headers: { 'x-env': 'canary' }, query: { beta: { present: true } } }],
    ['health', { path: '/api/health' }],
    ['tenant', { host: '*.example.com', pathPrefix: '/v2' }],
  ];
  runCases([
    { desc: 'exact path beats every prefix', routes, req: { path: '/api/health' }, want: 'health' },
    { desc: 'same prefix: one predicate beats none', routes, req: { path: '/api/users' }, want: 'api-get' },
    { desc: 'a refused method falls to the next route with the same prefix', routes, req: { method: 'POST', path: '/api/users' }, want: 'api' },
    { desc: 'two predicates beat one', routes, req: { path: '/api/users', query: 'beta', headers: { 'x-env': 'canary' } }, want: 'canary' },
    { desc: 'segment boundary sends /apix to the catch-all', routes, req: { path: '/apix' }, want: 'catch-all' },
    { desc: 'the wildcard bucket comes before the any-host bucket', routes, req: { host: 'a.example.com', path: '/v2/x' }, want: 'tenant' },
    { desc: 'a wildcard bucket without the path falls back to any-host routes', routes, req: { host: 'a.example.com', path: '/api/x' }, want: 'api-get' },
    { desc: 'the wildcard does not match the bare domain', routes, req: { host: 'example.com', path: '/v2/x' }, want: 'catch-all' },
  ]);
});

describe('compile errors', () => {
  const cases: Array<{ desc: string; match: RouteMatchConfig; message: RegExp }> = [
    { desc: 'an invalid pathRegex names the route and field', match: { pathRegex: '([a-' }, message: /route #0 pathRegex: "\(\[a-" is not a valid regular expression/ },
    { desc: 'an unbalanced pathRegex cannot escape the anchors', match: { pathRegex: 'a)|(b' }, message: /pathRegex: "a\)\|\(b" is not a valid/ },
    { desc: 'an invalid header regex', match: { headers: { 'x-a': { regex: '*' } } }, message: /route #0 headers "x-a"/ },
    { desc: 'an invalid query regex', match: { query: { a: { regex: '[' } } }, message: /route #0 query "a"/ },
    { desc: 'a wildcard that is not a leading label', match: { host: 'api.*.com' }, message: /host "api\.\*\.com" is not a host name/ },
    { desc: 'two path specs at once', match: { path: '/a', pathPrefix: '/a' }, message: /only one of path, pathPrefix or pathRegex/ },
    { desc: 'a string match with two kinds', match: { headers: { 'x-a': { exact: 'a', prefix: 'b' } } }, message: /exactly one of exact, prefix, regex or present/ },
  ];
  for (const c of cases) {
    it(c.desc, () => assert.throws(() => compileRouteTable([{ match: c.match, value: 1 }]), c.message));
  }
});

describe('many routes', () => {
  it('1000 routes compile and each request finds its route', () => {
    const routes: Array<[string, RouteMatchConfig]> = [];
    for (let i = 0; i < 250; i++) {
      routes.push([`prefix-${i}`, { pathPrefix: `/svc${i}` }]);
      routes.push([`exact-${i}`, { path: `/svc${i}/health` }]);
      routes.push([`host-${i}`, { host: `h${i}.example.com`, pathPrefix: `/svc${i}/items` }]);
      routes.push([`canary-${i}`, { pathPrefix: `/svc${i}`, headers: { 'x-env': 'canary' } }]);
    }
    const t = table(routes);
    for (let i = 0; i < 250; i++) {
      assert.equal(t.match(request({ path: `/svc${i}/orders/1` })), `prefix-${i}`);
      assert.equal(t.match(request({ path: `/svc${i}` })), `prefix-${i}`);
      assert.equal(t.match(request({ path: `/svc${i}/health` })), `exact-${i}`);
      assert.equal(t.match(request({ host: `h${i}.example.com`, path: `/svc${i}/items/9` })), `host-${i}`);
      assert.equal(t.match(request({ host: `h${i}.example.com`, path: `/svc${i}/other` })), `prefix-${i}`);
      assert.equal(t.match(request({ path: `/svc${i}/x`, headers: { 'x-env': 'canary' } })), `canary-${i}`);
      assert.equal(t.match(request({ path: `/svc${i}x` })), undefined);
    }
  });
});

// Differential test: 1000 random routes against a plain reference matcher (filter every route, sort by the
// documented precedence, take the first). Seeded, so a failure reproduces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteMatchConfig } from '../config/schema.ts';
import { compileRouteTable, type RouteRequest } from './route-table.ts';

describe('random routes agree with the reference matcher', () => {
  it('1000 random routes agree with a straightforward reference matcher', () => {
    const random = seeded(42);
    const routes: Array<[string, RouteMatchConfig]> = [];
    for (let i = 0; i < 1000; i++) routes.push([`r${i}`, randomMatch(random)]);
    const t = compileRouteTable(routes.map(([name, match]) => ({ match, value: name })));
    for (let n = 0; n < 5000; n++) {
      const req = randomRequest(random);
      assert.equal(t.match(req), referenceMatch(routes, req), JSON.stringify(req));
    }
  });
});

// A deterministic generator (mulberry32) so a failure reproduces.
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<V>(random: () => number, items: readonly V[]): V {
  return items[Math.floor(random() * items.length)]!;
}

const SEGMENTS = ['api', 'v1', 'users', 'x', 'api2'];
const REGEXES = ['/api/.*', '/v[0-9]+/users', '/(api|x)/[a-z]+', '/users/[0-9]+', '/.*/x'];
const HOSTS = [undefined, 'a.example.com', 'b.example.com', '*.example.com', '*.a.example.com', 'other.org', '*'];
const HEADERS: RouteMatchConfig['headers'][] = [
  { 'x-env': 'canary' }, { 'x-env': { prefix: 'can' } }, { 'x-tier': { regex: 'gold|silver' } },
  { 'x-debug': { present: true } }, { 'x-debug': { present: false } },
];
const QUERIES: RouteMatchConfig['query'][] = [{ tag: 'a' }, { tag: { present: true } }, { q: 'a b' }, { q: { present: false } }];

function randomPath(random: () => number, maxDepth: number): string {
  const depth = 1 + Math.floor(random() * maxDepth);
  let path = '';
  for (let i = 0; i < depth; i++) path += `/${pick(random, SEGMENTS)}`;
  return random() < 0.2 ? `${path}/` : path;
}

function randomMatch(random: () => number): RouteMatchConfig {
  const match: RouteMatchConfig = {};
  const host = pick(random, HOSTS);
  if (host !== undefined) match.host = host;
  const kind = random();
  if (kind < 0.3) match.path = randomPath(random, 3);
  else if (kind < 0.7) match.pathPrefix = random() < 0.1 ? '/' : randomPath(random, 2);
  else if (kind < 0.85) match.pathRegex = pick(random, REGEXES);
  if (random() < 0.3) match.methods = random() < 0.5 ? ['GET'] : ['POST', 'DELETE'];
  if (random() < 0.3) match.headers = { ...pick(random, HEADERS), ...(random() < 0.3 ? pick(random, HEADERS) : {}) };
  if (random() < 0.2) match.query = pick(random, QUERIES);
  return match;
}

function randomRequest(random: () => number): RouteRequest {
  const headers: RouteRequest['headers'] = {};
  if (random() < 0.4) headers['x-env'] = pick(random, ['canary', 'candy', 'prod']);
  if (random() < 0.3) headers['x-tier'] = pick(random, ['gold', 'silver', 'golden']);
  if (random() < 0.3) headers['x-debug'] = '1';
  return {
    method: pick(random, ['GET', 'POST', 'DELETE', 'PUT']),
    host: pick(random, ['a.example.com', 'b.example.com', 'c.a.example.com', 'example.com', 'other.org', '']),
    path: random() < 0.05 ? '/' : randomPath(random, 4),
    query: pick(random, ['', 'tag=a', 'tag=b&tag=a', 'q=a%20b', 'q=a+c', 'tag']),
    headers,
  };
}

/** The documented precedence, written as plainly as possible: filter every route, sort, take the first. */
function referenceMatch(routes: ReadonlyArray<readonly [string, RouteMatchConfig]>, req: RouteRequest): string | undefined {
  const bucketOf = (m: RouteMatchConfig) => (m.host === undefined || m.host === '*' ? '*' : String(m.host));
  const regexRank = (m: RouteMatchConfig, source: string) =>
    routes.findIndex(([, o]) => o.pathRegex === source && bucketOf(o) === bucketOf(m));
  const ranked: Array<{ name: string; key: number[] }> = [];
  routes.forEach(([name, m], order) => {
    const host = bucketOf(m);
    let hostKey: number;
    if (host === '*') hostKey = 2000;
    else if (host.startsWith('*.')) {
      const suffix = host.slice(1);
      if (!req.host.endsWith(suffix) || req.host.length <= suffix.length) return;
      hostKey = 1000 - suffix.length;
    } else if (host === req.host) hostKey = 0;
    else return;
    let pathKey: number[];
    if (m.path !== undefined) {
      if (req.path !== m.path) return;
      pathKey = [0, 0];
    } else if (m.pathRegex !== undefined) {
      if (!new RegExp(`^(?:${m.pathRegex})$`).test(req.path)) return;
      pathKey = [2, regexRank(m, m.pathRegex)];
    } else {
      const p = m.pathPrefix ?? '/';
      const ok = p.endsWith('/') ? req.path.startsWith(p) : req.path === p || req.path.startsWith(`${p}/`);
      if (!ok) return;
      pathKey = [1, -p.length];
    }
    if (m.methods && !m.methods.includes(req.method)) return;
    const params = new URLSearchParams(req.query);
    const test = (spec: unknown, value: string | undefined): boolean => {
      if (typeof spec === 'string') return value === spec;
      const s = spec as { exact?: string; prefix?: string; regex?: string; present?: boolean };
      if (s.present !== undefined) return (value !== undefined) === s.present;
      if (value === undefined) return false;
      if (s.exact !== undefined) return value === s.exact;
      if (s.prefix !== undefined) return value.startsWith(s.prefix);
      return new RegExp(`^(?:${s.regex})$`).test(value);
    };
    for (const [hname, spec] of Object.entries(m.headers ?? {})) {
      if (!test(spec, req.headers[hname] as string | undefined)) return;
    }
    for (const [qname, spec] of Object.entries(m.query ?? {})) {
      const values = params.getAll(qname);
      const ok = values.length === 0 ? test(spec, undefined) : values.some((v) => test(spec, v));
      if (!ok) return;
    }
    const predicates = 2 * (Object.keys(m.headers ?? {}).length + Object.keys(m.query ?? {}).length) + (m.methods ? 1 : 0);
    ranked.push({ name, key: [hostKey, ...pathKey, -predicates, order] });
  });
  ranked.sort((a, b) => {
    for (let i = 0; i < a.key.length; i++) if (a.key[i] !== b.key[i]) return a.key[i]! - b.key[i]!;
    return 0;
  });
  return ranked[0]?.name;
}

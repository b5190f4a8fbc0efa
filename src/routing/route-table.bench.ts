// Micro-benchmark of RouteTable.match (not a test): ns per match for tables of 10 and 1000 routes.
// Run: node src/routing/route-table.bench.ts
import type { RouteMatchConfig } from '../config/schema.ts';
import { compileRouteTable, type RouteRequest } from './route-table.ts';

/** n routes shaped like a real gateway's: per-service prefixes and health checks, some host-bound, some canaries. */
function routesFor(n: number): Array<{ match: RouteMatchConfig; value: string }> {
  const routes: Array<{ match: RouteMatchConfig; value: string }> = [];
  const services = Math.max(1, Math.floor((n - 2) / 4));
  for (let i = 0; i < services; i++) {
    routes.push({ match: { pathPrefix: `/api/svc${i}`, methods: ['GET', 'POST'] }, value: `svc${i}` });
    routes.push({ match: { path: `/api/svc${i}/health` }, value: `health${i}` });
    routes.push({ match: { host: `t${i}.example.com`, pathPrefix: `/api/svc${i}` }, value: `tenant${i}` });
    routes.push({ match: { pathPrefix: `/api/svc${i}`, headers: { 'x-env': 'canary' } }, value: `canary${i}` });
  }
  routes.push({ match: { pathRegex: '/files/[0-9]+/[a-z]+\\.png' }, value: 'files' });
  while (routes.length < n) routes.push({ match: {}, value: 'catch-all' });
  return routes;
}

function req(partial: Partial<RouteRequest>): RouteRequest {
  return { method: 'GET', host: 'gw.example.com', path: '/', query: '', headers: { host: 'gw.example.com' }, ...partial };
}

function requestsFor(n: number): Array<[string, RouteRequest]> {
  const last = Math.max(0, Math.floor((n - 2) / 4) - 1);
  return [
    ['prefix, deep path', req({ path: `/api/svc${last}/users/42/orders` })],
    ['exact path', req({ path: `/api/svc${last}/health` })],
    ['exact host + prefix', req({ host: `t${last}.example.com`, path: `/api/svc${last}/users` })],
    ['header predicate', req({ path: `/api/svc${last}/users`, headers: { 'x-env': 'canary' } })],
    ['regex', req({ path: '/files/12/logo.png' })],
    ['catch-all (no path match)', req({ path: '/static/app.js' })],
  ];
}

function nsPerMatch(fn: () => unknown, iterations: number): number {
  for (let i = 0; i < 100_000; i++) fn(); // warm-up: let the JIT settle
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

let sink = 0;
console.log('routes  case                          ns/match');
for (const n of [10, 1000]) {
  const table = compileRouteTable(routesFor(n));
  for (const [label, request] of requestsFor(n)) {
    const ns = nsPerMatch(() => (sink += table.match(request)?.length ?? 0), 2_000_000);
    console.log(`${String(n).padStart(6)}  ${label.padEnd(30)}${ns.toFixed(1).padStart(8)}`);
  }
}
if (sink === 0) console.log('(no matches?)');

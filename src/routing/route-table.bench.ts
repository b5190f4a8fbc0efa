// Micro-benchmark of RouteTable.match (not a test): ns per match for tables of 10 and 1000 routes.
// Run: node src/routing/route-table.bench.ts
import type { RouteMatchConfig } from '../config/schema.ts';
import { compileRouteTable, type RouteRequest } from './route-table.ts';

/** n routes shaped like a real gateway's: per-service prefixes and health checks, some host-bound, some canaries;
 * one regex route and a catch-all. */
function routesFor(n: number): Array<{ match: RouteMatchConfig; value: string }> {
  const routes: Array<{ match: RouteMatchConfig; value: string }> = [];
  const services = Math.max(1, Math.floor((n - 2) / 4));
  for (let i = 0; i < services; i++) {
    routes.push({ match: { pathPrefix: `/api/svc${i}`, methods: ['GET', 'POST'] }, value: `svc${i}` });
    routes.push({ match: { path: `/api/svc${i}/health` }, value: `health${i}` });
    routes.push({ match: { host: `t${i}.example.com`, pathPrefix: `/api/svc${i}` }, value: `tenant${i}` });
    routes.push({
      match: { pathPrefix: `/api/svc${i}`, methods: ['GET', 'POST'], headers: { 'x-env': 'canary' } },
      value: `canary${i}`,
    });
  }
  // On its own host: an any-host catch-all would be tried before it (prefix "/" beats every regex).
  routes.push({ match: { host: 'files.example.com', pathRegex: '/files/[0-9]+/[a-z]+\\.png' }, value: 'files' });
  for (let pad = 0; routes.length < n - 1; pad++) routes.push({ match: { pathPrefix: `/pad${pad}` }, value: 'pad' });
  routes.push({ match: {}, value: 'catch-all' });
  return routes;
}

function req(partial: Partial<RouteRequest>): RouteRequest {
  return { method: 'GET', host: 'gw.example.com', path: '/', query: '', headers: { host: 'gw.example.com' }, ...partial };
}

/** [label, request, the value it must match]: the last service, so nothing is found early by luck. */
function requestsFor(n: number): Array<[string, RouteRequest, string]> {
  const last = Math.max(0, Math.floor((n - 2) / 4) - 1);
  return [
    ['prefix, deep path', req({ path: `/api/svc${last}/users/42/orders` }), `svc${last}`],
    ['exact path', req({ path: `/api/svc${last}/health` }), `health${last}`],
    ['exact host + prefix', req({ host: `t${last}.example.com`, path: `/api/svc${last}/users` }), `tenant${last}`],
    ['header predicate', req({ path: `/api/svc${last}/users`, headers: { 'x-env': 'canary' } }), `canary${last}`],
    ['regex (own host)', req({ host: 'files.example.com', path: '/files/12/logo.png' }), 'files'],
    ['catch-all (no path match)', req({ path: '/static/app.js' }), 'catch-all'],
  ];
}

/** Best of several rounds: the least disturbed by other processes on a shared machine. */
function nsPerMatch(fn: () => unknown, iterations: number, rounds = 7): number {
  for (let i = 0; i < 200_000; i++) fn(); // warm-up: let the JIT settle
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / iterations);
  }
  return best;
}

let sink = 0;
const empty = compileRouteTable([{ match: {}, value: 'catch-all' }]);
const any = req({ path: '/x' });
const baseline = nsPerMatch(() => (sink += empty.match(any)?.length ?? 0), 1_000_000);
console.log(`baseline, a table of one catch-all route: ${baseline.toFixed(1)} ns/match`);
console.log('routes  case                          ns/match');
for (const n of [10, 1000]) {
  const table = compileRouteTable(routesFor(n));
  for (const [label, request, want] of requestsFor(n)) {
    const got = table.match(request);
    if (got !== want) throw new Error(`${n} routes, ${label}: matched ${got}, expected ${want}`);
    const ns = nsPerMatch(() => (sink += table.match(request)?.length ?? 0), 1_000_000);
    console.log(`${String(n).padStart(6)}  ${label.padEnd(30)}${ns.toFixed(1).padStart(8)}`);
  }
}
if (sink === 0) console.log('(no matches?)');

import { compileRouteTable } from './route-table.ts';
const mode = process.argv[2];
const r: any[] = [];
if (mode === 'exactonly') for (let i = 0; i < 249; i++) r.push({ match: { path: `/api/svc${i}/health` }, value: `health${i}` });
if (mode === 'prefixonly') for (let i = 0; i < 249; i++) r.push({ match: { pathPrefix: `/api/svc${i}` }, value: `p${i}` });
if (mode === 'prefix1') r.push({ match: { pathPrefix: `/api/svc248` }, value: `p` });
if (mode !== 'floor' && !mode.includes('only') && mode !== 'prefix1') for (let i = 0; i < 249; i++) { r.push({ match: { pathPrefix: `/api/svc${i}`, methods: ['GET', 'POST'] }, value: `svc${i}` }); r.push({ match: { path: `/api/svc${i}/health` }, value: `health${i}` }); if (mode !== 'nohost') r.push({ match: { host: `t${i}.example.com`, pathPrefix: `/api/svc${i}` }, value: `tenant${i}` }); if (mode !== 'nocanary') r.push({ match: { pathPrefix: `/api/svc${i}`, headers: { 'x-env': 'canary' } }, value: `canary${i}` }); }
r.push({ match: {}, value: 'catch' });
const t = compileRouteTable(r);
const req = { method: 'GET', host: 'gw.example.com', path: '/api/svc248/users/42/orders', query: '', headers: {host:'x'} };
let s = 0;
for (let i = 0; i < 1e6; i++) s += t.match(req)!.length;
let best = Infinity;
for (let round = 0; round < 15; round++) {
  const st = process.hrtime.bigint();
  for (let i = 0; i < 1e6; i++) s += t.match(req)!.length;
  best = Math.min(best, Number(process.hrtime.bigint() - st) / 1e6);
}
console.log(mode, best.toFixed(1), s > 0);

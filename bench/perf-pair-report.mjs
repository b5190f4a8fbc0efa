// perf-pair.sh's report: leaf samples of two processes per 1000 requests, by symbol (or by kind of code with
// GROUP=dso), sorted by how much more the second spends. Input: `perf script -F pid,ip,sym,dso`.
//   node bench/perf-pair-report.mjs SAMPLES PID_A REQUESTS_A PID_B REQUESTS_B   (env: GROUP, FILTER, TOP)
import { readFileSync } from 'node:fs';

const [file, pidA, requestsA, pidB, requestsB] = process.argv.slice(2);
if (file === undefined || requestsB === undefined) {
  console.error('usage: node bench/perf-pair-report.mjs SAMPLES PID_A REQUESTS_A PID_B REQUESTS_B');
  process.exit(2);
}
const SAMPLE_US = 1e6 / 2999; // perf-pair.sh records at -F 2999
const byDso = process.env.GROUP === 'dso';
const filter = new RegExp(process.env.FILTER ?? '');
const top = Number(process.env.TOP ?? 50);

/** A sample's bucket: its symbol, prefixed by where the code lives, or (GROUP=dso) the kind of code. */
function bucket(symbol, dso) {
  const kernel = dso.includes('kernel');
  const jit = dso.startsWith('/tmp/perf-');
  if (byDso) {
    if (kernel) return 'kernel';
    if (jit) return /^(RegExp|Builtin:|Stub:)/.test(symbol) ? 'JIT regexp/stubs' : 'JS (JIT)';
    if (dso.endsWith('/node')) return symbol.startsWith('Builtins_') ? 'V8 builtins' : 'node + V8 C++';
    return dso;
  }
  const where = kernel ? 'kernel' : jit ? 'js' : dso.endsWith('/node') ? 'node' : dso.replace(/^.*\//, '');
  return `${where} | ${symbol === '[unknown]' ? `[unknown in ${dso}]` : symbol}`;
}

const counts = { [pidA]: new Map(), [pidB]: new Map() };
const totals = { [pidA]: 0, [pidB]: 0 };
// "  1234 7f3ec68f3b61 JS:*'line file:///…/access-log.ts:88:7 (/tmp/perf-1234.map)"
const LINE = /^\s*(\d+)\s+[0-9a-f]+\s+(.*?)(?:\s+\(([^)]*)\))?$/;
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const m = LINE.exec(line);
  if (m === null || counts[m[1]] === undefined) continue;
  const key = bucket(m[2], m[3] ?? '');
  counts[m[1]].set(key, (counts[m[1]].get(key) ?? 0) + 1);
  totals[m[1]]++;
}

const perK = (pid, requests, n) => (n * 1000) / Number(requests);
const a = perK(pidA, requestsA, totals[pidA]);
const b = perK(pidB, requestsB, totals[pidB]);
console.log(`samples per 1000 requests: a ${a.toFixed(1)}, b ${b.toFixed(1)}, b/a ${(b / a).toFixed(3)}`);
console.log(`(a request: a ${((a * SAMPLE_US) / 1000).toFixed(1)} µs, b ${((b * SAMPLE_US) / 1000).toFixed(1)} µs of CPU)`);
const rows = [...new Set([...counts[pidA].keys(), ...counts[pidB].keys()])]
  .filter((key) => filter.test(key))
  .map((key) => {
    const x = perK(pidA, requestsA, counts[pidA].get(key) ?? 0);
    const y = perK(pidB, requestsB, counts[pidB].get(key) ?? 0);
    return { key, x, y, diff: y - x };
  })
  .sort((p, q) => Math.abs(q.diff) - Math.abs(p.diff));
console.log(`${'a'.padStart(8)}${'b'.padStart(8)}${'b − a'.padStart(8)}  symbol`);
for (const r of rows.slice(0, top)) {
  console.log(`${r.x.toFixed(2).padStart(8)}${r.y.toFixed(2).padStart(8)}${r.diff.toFixed(2).padStart(8)}  ${r.key.slice(0, 120)}`);
}

// Summarises a V8 .cpuprofile (node --cpu-prof): self time and inclusive time by function + script, and self time
// by area (Sluice's src/, undici, pino/zod/…, node core, V8/GC). Sluice-owned functions are marked with ◆.
// usage: node cpuprofile-top.mjs FILE.cpuprofile [TOP=25] [--md]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const md = args.includes('--md');
const [file, topArg] = args.filter((a) => a !== '--md');
const TOP = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map();
for (const n of prof.nodes) byId.set(n.id, n);
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function shortUrl(url) {
  if (!url) return '';
  const src = url.lastIndexOf('/src/');
  if (src >= 0 && !url.includes('node_modules')) return url.slice(src + 1);
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}
function area(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native / V8 builtins)';
  if (url.includes('node_modules/undici/')) return 'undici';
  if (url.includes('node_modules/')) return 'other npm (' + url.split('node_modules/').pop().split('/')[0] + ')';
  if (url.startsWith('node:')) {
    const m = url.match(/^node:internal\/(http|_http|streams|stream|net|timers|async_hooks|process|event|url|crypto)/);
    return 'node core' + (m ? ' (' + m[1].replace(/^_/, '') + ')' : '');
  }
  if (/\/src\//.test(url)) return 'sluice src/';
  return 'other (' + shortUrl(url) + ')';
}
const keyOf = (n) => {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'}\t${f.url ? shortUrl(f.url) + ':' + (f.lineNumber + 1) : '(native)'}`;
};

// sample i lasts timeDeltas[i + 1] (the next delta); the last sample gets the mean
const samples = prof.samples;
const deltas = prof.timeDeltas;
const mean = (prof.endTime - prof.startTime) / Math.max(1, samples.length);
const self = new Map();
const incl = new Map();
const areas = new Map();
let total = 0;
let idle = 0;
for (let i = 0; i < samples.length; i++) {
  const dt = i + 1 < deltas.length ? deltas[i + 1] : mean;
  const node = byId.get(samples[i]);
  const k = keyOf(node);
  if (node.callFrame.functionName === '(idle)') {
    idle += dt;
    continue;
  }
  total += dt;
  self.set(k, (self.get(k) ?? 0) + dt);
  const a = area(node.callFrame.url, node.callFrame.functionName);
  areas.set(a, (areas.get(a) ?? 0) + dt);
  const seen = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const kk = keyOf(byId.get(id));
    if (seen.has(kk)) continue;
    seen.add(kk);
    incl.set(kk, (incl.get(kk) ?? 0) + dt);
  }
}
const pct = (v) => ((100 * v) / total).toFixed(1).padStart(5) + '%';
const msf = (v) => (v / 1000).toFixed(0).padStart(6) + ' ms';
const sluiceKey = (k) => k.split('\t')[1].startsWith('src/');

console.log(`${file}: ${(total / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle, ${samples.length} samples`);
const print = (title, map, n, col = 'self %') => {
  console.log(`\n${title}`);
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  if (md) {
    console.log(`| # | ${col} | function | where |\n| ---: | ---: | --- | --- |`);
    rows.forEach(([k, v], i) => {
      const [fn, where] = k.split('\t');
      const mark = sluiceKey(k);
      console.log(`| ${i + 1} | ${pct(v).trim()} | ${mark ? '**' + fn + '**' : fn} | ${mark ? '**' + where + '**' : where} |`);
    });
  } else {
    rows.forEach(([k, v], i) => {
      const [fn, where] = k.split('\t');
      console.log(`${String(i + 1).padStart(3)} ${pct(v)} ${msf(v)}  ${sluiceKey(k) ? '◆' : ' '} ${fn.padEnd(34)} ${where}`);
    });
  }
};
print(`Top ${TOP} by self time (% of busy time; ◆ = Sluice src/):`, self, TOP);
console.log('\nSelf time by area:');
for (const [a, v] of [...areas].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(v)}  ${a}`);
const sluiceIncl = new Map([...incl].filter(([k]) => sluiceKey(k)));
print('Sluice src/ functions by inclusive time (self + callees):', sluiceIncl, 15, 'inclusive %');
let sluiceSelf = 0;
for (const [k, v] of self) if (sluiceKey(k)) sluiceSelf += v;
console.log(`\nSelf time in Sluice src/ functions: ${pct(sluiceSelf).trim()} of busy time`);

// Turns run.sh's raw results into the markdown report: medians over rounds, ratios, the moderate-load latency
// pooled over slices, and the targets.
// usage: BUSY_MAX=15 CONNS=64 node report.mjs RESULTS_FILE UPSTREAM_RPS EXTRA_NAME NAME...
// RESULTS_FILE lines (ms; errors "-" = none; busy = CPU other processes used during the measurement, % of a core):
//   tput NAME rps p50 p99 max errors rssMiB busy
//   lat  NAME rps p50 p99 max errors busy round slice histogramFile   (histogram lines: "µs count")
import { existsSync, readFileSync } from 'node:fs';

const [file, uprps, extraName, ...names] = process.argv.slice(2);
const BUSY_MAX = Number(process.env.BUSY_MAX ?? 15);
const rows = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' '));
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (v) => (v === undefined || Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const fx = (v, d = 2) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(d));
const signed = (v) => (v === undefined || Number.isNaN(v) ? '-' : (v >= 0 ? '+' : '') + v.toFixed(2));
const label = (n) => (n === 'extra' ? extraName : n);
const bold = (n) => (n === 'sluice' ? '**sluice**' : label(n));
const PEERS = ['fast-gateway', 'fastify-http-proxy', 'http-proxy'];
const disturbed = (busy) => BUSY_MAX > 0 && +busy > BUSY_MAX;

// ---- throughput: one measurement per proxy and round; disturbed rounds left out when a clean one exists
const t = {};
for (const n of names) {
  const all = rows.filter((r) => r[0] === 'tput' && r[1] === n);
  if (!all.length) continue;
  const clean = all.filter((r) => !disturbed(r[8]));
  const rs = clean.length ? clean : all;
  const col = (i) => rs.map((r) => +r[i]);
  t[n] = {
    used: `${rs.length}/${all.length}`,
    rps: med(col(2)),
    min: Math.min(...col(2)),
    max: Math.max(...col(2)),
    p50: med(col(3)),
    p99: med(col(4)),
    rss: med(col(7)),
    busy: all.map((r) => r[8] + (disturbed(r[8]) ? '*' : '')).join('/'),
    errs: all.map((r) => r[6]).filter((e) => e && e !== '-').join(' '),
  };
}

// ---- moderate load: slices pooled (histograms) per proxy, and per proxy and round
function readHist(path, into) {
  if (!path || !existsSync(path)) return;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [v, c] = line.split(' ').map(Number);
    if (c > 0) into.set(v, (into.get(v) ?? 0) + c);
  }
}
function pct(hist, p) {
  const entries = [...hist].sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, c]) => s + c, 0);
  let seen = 0;
  for (const [v, c] of entries) {
    seen += c;
    if (seen >= (p / 100) * total) return v / 1000;
  }
  return NaN;
}
const count = (hist) => [...hist.values()].reduce((s, c) => s + c, 0);
const l = {};
for (const n of names) {
  const all = rows.filter((r) => r[0] === 'lat' && r[1] === n);
  if (!all.length) continue;
  const clean = all.filter((r) => !disturbed(r[7]));
  const rs = clean.length ? clean : all;
  const pooled = new Map();
  const perRound = new Map();
  for (const r of rs) {
    readHist(r[10], pooled);
    if (!perRound.has(r[8])) perRound.set(r[8], new Map());
    readHist(r[10], perRound.get(r[8]));
  }
  l[n] = {
    used: `${rs.length}/${all.length}`,
    rps: med(rs.map((r) => +r[2])),
    samples: count(pooled),
    p50: pct(pooled, 50),
    p90: pct(pooled, 90),
    p99: pct(pooled, 99),
    p999: pct(pooled, 99.9),
    max: pct(pooled, 100),
    roundP99: new Map([...perRound].map(([round, h]) => [round, pct(h, 99)])),
    busy: all.map((r) => r[7] + (disturbed(r[7]) ? '*' : '')).join('/'),
    errs: all.map((r) => r[6]).filter((e) => e && e !== '-').join(' '),
  };
}

const floor = t['node-floor-undici']?.rps;
const ngx = t.nginx?.rps;
console.log(`upstream alone (nginx, CPU 0): ${Math.round(+uprps)} rps\n`);
console.log(
  "\"others' CPU %\": CPU time other processes on the machine used during each measurement, in % of one core; " +
    `* = above BUSY_MAX (${BUSY_MAX}); such measurements are left out when a clean one exists ("used" = kept/taken).\n`,
);
console.log(`Throughput, ${process.env.CONNS ?? 64} connections (medians over rounds):\n`);
console.log("| proxy | median rps | min–max | p50 ms | p99 ms | RSS MiB | × Node floor (undici) | × nginx | used | others' CPU % |");
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [n, s] of Object.entries(t)) {
  console.log(
    `| ${bold(n)} | ${s.rps.toFixed(0)} | ${s.min.toFixed(0)}–${s.max.toFixed(0)} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.rss} | ` +
      `${floor ? fx(s.rps / floor) : '-'} | ${ngx ? fx(s.rps / ngx) : '-'} | ${s.used} | ${s.busy} |${s.errs ? ' errors: ' + s.errs : ''}`,
  );
}

const lf = l['node-floor-undici'];
if (Object.keys(l).length) {
  console.log(
    '\nLatency at a fixed moderate load (same offered load for every proxy; all slices of all rounds pooled; ' +
      '"p99 per round" pools the slices of one round):\n',
  );
  console.log("| proxy | rps | samples | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | p99 per round | p99 − floor's | used | others' CPU % |");
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [n, s] of Object.entries(l)) {
    console.log(
      `| ${bold(n)} | ${s.rps.toFixed(0)} | ${s.samples} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.p999)} | ${ms(s.max)} | ` +
        `${[...s.roundP99.values()].map(ms).join(' / ')} | ${lf ? signed(s.p99 - lf.p99) : '-'} | ${s.used} | ${s.busy} |` +
        (s.errs ? ' errors: ' + s.errs : ''),
    );
  }
}

// ---- optional head-to-head throughput: alternating slices of side-by-side proxies; ratios paired by slice
const pairRows = rows.filter((r) => r[0] === 'pair' && !disturbed(r[7]));
const pair = {};
for (const n of names) {
  const rs = pairRows.filter((r) => r[1] === n);
  if (rs.length) pair[n] = { rps: med(rs.map((r) => +r[2])), n: rs.length, bySlice: new Map(rs.map((r) => [`${r[8]}.${r[9]}`, +r[2]])) };
}
function pairedRatios(a, b) {
  if (!pair[a] || !pair[b]) return [];
  return [...pair[a].bySlice].filter(([k]) => pair[b].bySlice.has(k)).map(([k, v]) => v / pair[b].bySlice.get(k));
}
if (Object.keys(pair).length) {
  console.log(
    `\nHead-to-head throughput, ${process.env.CONNS ?? 64} connections: the proxies run side by side (all idle but the one measured) ` +
      'and are measured in alternating short slices; ratios are paired slice by slice (slice k of A against slice k of B):\n',
  );
  console.log('| proxy | slices | median rps | × Node floor (undici), paired: median (min–max) | × nginx, paired |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [n, s] of Object.entries(pair)) {
    const f = pairedRatios(n, 'node-floor-undici');
    const g = pairedRatios(n, 'nginx');
    const show = (a) => (a.length ? `${fx(med(a))} (${fx(Math.min(...a))}–${fx(Math.max(...a))})` : '-');
    console.log(`| ${bold(n)} | ${s.n} | ${s.rps.toFixed(0)} | ${show(f)} | ${show(g)} |`);
  }
}

const sl = t.sluice;
if (sl) {
  console.log('\nTargets (one worker):\n');
  const verdict = (ok) => (ok ? 'MET' : 'NOT MET');
  if (floor) {
    const ratio = sl.rps / floor;
    const paired = pairedRatios('sluice', 'node-floor-undici');
    console.log(
      `- Sluice ≥ 85% of the Node floor's (undici) rps: ${(ratio * 100).toFixed(0)}% (${sl.rps.toFixed(0)} vs ${floor.toFixed(0)}) → ${verdict(ratio >= 0.85)}` +
        (paired.length ? `; head-to-head ${(med(paired) * 100).toFixed(0)}% (median of ${paired.length} paired slices) → ${verdict(med(paired) >= 0.85)}` : ''),
    );
  } else console.log("- Sluice ≥ 85% of the Node floor's (undici) rps: not measured");
  const peers = PEERS.filter((p) => t[p]);
  console.log(
    `- Sluice ahead of every Node peer: ` +
      (peers.length
        ? peers.map((p) => `${fx(sl.rps / t[p].rps)}× ${p}`).join(', ') + ` → ${verdict(peers.every((p) => sl.rps > t[p].rps))}`
        : 'not measured'),
  );
  const ls = l.sluice;
  if (ls && lf) {
    const d = ls.p99 - lf.p99;
    const rounds = [...ls.roundP99.keys()].filter((r) => lf.roundP99.has(r));
    const paired = rounds.map((r) => ls.roundP99.get(r) - lf.roundP99.get(r));
    console.log(
      `- p99 at the fixed moderate load within 1 ms of the floor's: ${ms(ls.p99)} vs ${ms(lf.p99)} ms pooled ` +
        `(${signed(d)} ms; per round ${paired.map(signed).join(' / ')}) → ${verdict(d <= 1)}`,
    );
  } else console.log("- p99 at the fixed moderate load within 1 ms of the floor's: not measured");
}
console.log('\nRESULT ' + Object.entries(t).map(([n, s]) => `${label(n)}=${s.rps.toFixed(0)}`).join(' '));

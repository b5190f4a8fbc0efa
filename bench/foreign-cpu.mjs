// Interference meter: CPU used by processes that are not part of the measurement, over a window.
// usage: EXCLUDE_PID=$$ node foreign-cpu.mjs SECONDS PGID...
// Prints one number: CPU time used by others during the window, in % of one core (35 = another process kept a third
// of a core busy). It is the machine's user + system time plus steal (time the hypervisor gave our vCPUs to someone
// else) from /proc/stat — interrupt and softirq time, where the benchmark's own loopback traffic is accounted, are
// not included — minus the benchmark's own processes: the given process groups (proxy, upstream), its `wrk`, this
// script, and the benchmark script EXCLUDE_PID with its reaped children (curl, awk… land in its cutime/cstime).
// Short-lived processes of others are counted too. Not seen: contention outside this VM that steal does not show
// (shared caches, memory bandwidth, SMT siblings), so a clean figure does not prove a quiet host.
import { readdirSync, readFileSync } from 'node:fs';

const [seconds, ...groups] = process.argv.slice(2);
const ours = new Set(groups.map(Number));
const excluded = Number(process.env.EXCLUDE_PID ?? -1);
const HZ = 100; // USER_HZ on Linux

function snapshot() {
  const cpu = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).map(Number);
  const machine = cpu[1] + cpu[2] + cpu[3] + cpu[8]; // user nice system steal
  let mine = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' '); // f[0] = state (field 3)
    const ppid = Number(f[1]);
    const pgid = Number(f[2]);
    const self = Number(f[11]) + Number(f[12]); // utime + stime
    const children = Number(f[13]) + Number(f[14]); // cutime + cstime (reaped children)
    if (Number(pid) === excluded) mine += self + children;
    else if (ours.has(pgid) || (comm === 'wrk' && ppid === excluded) || Number(pid) === process.pid) mine += self;
  }
  return { machine, mine };
}

const a = snapshot();
const t0 = process.hrtime.bigint();
setTimeout(() => {
  const b = snapshot();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const foreign = Math.max(0, b.machine - a.machine - (b.mine - a.mine));
  console.log(((100 * foreign) / HZ / wall).toFixed(0));
}, Number(seconds) * 1000);

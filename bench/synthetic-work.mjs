// Preloaded (--import) into a Sluice process by `bash bench/cost.sh calibration`: adds a fixed amount of synthetic
// work to every request, before Sluice sees it, to calibrate what a microsecond of work costs the gateway. Two kinds,
// each ≈ 2.4 µs in a tight loop on the benchmark machine: arithmetic that touches no memory (SYNTHETIC_WORK=compute),
// and JSON.stringify of an access-log-shaped object (SYNTHETIC_WORK=stringify), which allocates.
import http from 'node:http';

const kind = process.env.SYNTHETIC_WORK;
// Results kept in module state, so the work cannot be optimised away.
let keep = 0;
const work = {
  compute() {
    let x = keep | 0;
    for (let i = 0; i < 2000; i++) x = Math.imul(x ^ i, 2654435761) >>> 0;
    keep = x;
  },
  stringify() {
    for (let i = 0; i < 3; i++) {
      keep += JSON.stringify({
        trace_id: 'abcdef0123456789abcdef0123456789', request_id: `r${i}`, listener: 'main', route: 'all', upstream: 'app',
        target: 't', method: 'GET', path: '/', status: 200, duration_ms: Math.random(), bytes_in: 0, bytes_out: 100,
        attempts: 1, client_address: '127.0.0.1', user_agent: 'wrk',
      }).length;
    }
  },
}[kind];
if (work === undefined) throw new Error(`SYNTHETIC_WORK must be compute or stringify, not ${kind}`);
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request') work();
  return emit.call(this, event, ...args);
};

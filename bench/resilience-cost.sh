#!/bin/bash
# What the resilience policies cost (issue 3, item 10: at most 15 % of throughput): the same route served by two
# Sluice processes, one plain and one with retries, a circuit breaker (upstream and targets), outlier detection,
# active health checks and a local rate limit too high to reject anything. Both are pinned to CPU 1, nginx and wrk
# to CPU 0 (as in run.sh); short wrk runs alternate between them, and the median of the per-round ratios is
# reported, which holds up far better than absolute figures on a shared machine. BEFORE_DIR=/path/to/other/checkout
# adds a third process running that checkout's plain route (e.g. the commit before a change).
#
#   bash bench/resilience-cost.sh                 # ROUNDS=12 SECONDS_PER_RUN=3 CONNS=64: about 2 minutes
#   BEFORE_DIR=/tmp/sluice-before ROUNDS=16 bash bench/resilience-cost.sh
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE_DIR=${SLUICE_DIR:-$(cd "$HERE/.." && pwd)}
ROUNDS=${ROUNDS:-12} DUR=${SECONDS_PER_RUN:-3} CONNS=${CONNS:-64}
NODE=${NODE:-$SLUICE_DIR/node_modules/.bin/node}
for t in nginx wrk taskset setsid curl; do command -v $t >/dev/null || { echo "missing: $t"; exit 2; }; done
W=$(mktemp -d /tmp/resilience-cost.XXXXXX)
GROUPS_TO_KILL=()
cleanup() { for g in "${GROUPS_TO_KILL[@]:-}"; do [ -n "$g" ] && kill -- -"$g" 2>/dev/null; done; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT
port() { "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
start() { setsid taskset -c "$1" "${@:2}" >>"$W/log" 2>&1 & GROUPS_TO_KILL+=($!); }

UP=$(port)
cat >"$W/up.conf" <<C
worker_processes 1; daemon off; pid $W/up.pid; error_log $W/up.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$UP; keepalive_requests 1000000; location / { return 200 "$(printf 'x%.0s' $(seq 1 100))"; } } }
C
start 0 nginx -c "$W/up.conf"

config() { # NAME PORT EXTRA_UPSTREAM EXTRA_ROUTE
  cat >"$W/$1.yaml" <<C
listeners: [{ name: main, address: "127.0.0.1:$2" }]
upstreams:
  - name: app
    targets: [{ url: "http://127.0.0.1:$UP" }]
$3
routes:
  - name: all
    upstream: app
$4
admin: { address: "127.0.0.1:0" }
C
}
NAMES=(plain resilient)
PORT_plain=$(port); PORT_resilient=$(port)
config plain "$PORT_plain" "" ""
config resilient "$PORT_resilient" '    healthCheck: { path: /, interval: 1s }
    circuitBreaker: {}
    outlierDetection: {}' '    retries: { attempts: 2, on: [connect-failure, 503] }
    rateLimit: { rate: 10000000/s, burst: 1000000, key: client-ip }'
SLUICE_LOG_LEVEL=warn start 1 "$NODE" "$SLUICE_DIR/bin/sluice.js" start -c "$W/plain.yaml" --workers 1
SLUICE_LOG_LEVEL=warn start 1 "$NODE" "$SLUICE_DIR/bin/sluice.js" start -c "$W/resilient.yaml" --workers 1
if [ -n "${BEFORE_DIR:-}" ]; then
  NAMES=(before plain resilient)
  PORT_before=$(port)
  config before "$PORT_before" "" ""
  SLUICE_LOG_LEVEL=warn start 1 "$NODE" "$BEFORE_DIR/bin/sluice.js" start -c "$W/before.yaml" --workers 1
fi
for name in "${NAMES[@]}"; do
  p=PORT_$name
  for _ in $(seq 1 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${!p}/")" = 200 ] && break; sleep 0.1; done
  taskset -c 0 wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:${!p}/" >/dev/null # warm-up
done
for r in $(seq 1 "$ROUNDS"); do
  line="round $r:"
  for name in "${NAMES[@]}"; do
    p=PORT_$name
    rps=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:${!p}/" | awk '/Requests\/sec/ {print $2}')
    echo "$name $r $rps" >>"$W/results"
    line="$line $name $rps"
  done
  echo "$line"
done
"$NODE" -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
const by = {};
for (const [name, round, rps] of rows) (by[name] ??= {})[round] = Number(rps);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const name of Object.keys(by)) console.log(`${name}: median ${median(Object.values(by[name])).toFixed(0)} rps`);
const ratio = (a, b) => median(Object.keys(by[a]).map((r) => by[a][r] / by[b][r]));
console.log(`resilient / plain, median of per-round ratios: ${ratio("resilient", "plain").toFixed(3)}`);
if (by.before) console.log(`plain / before, median of per-round ratios: ${ratio("plain", "before").toFixed(3)}`);
' "$W/results"

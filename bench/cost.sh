#!/bin/bash
# What a feature costs in throughput: the same route served by several Sluice processes that differ only in the
# feature's config, against a baseline. All are pinned to CPU 1, nginx (the upstream) and wrk to CPU 0, as in
# run.sh; short wrk runs alternate between them, and each variant's median of per-round ratios to the baseline is
# reported, which holds up far better than absolute figures on a shared machine.
#
#   bash bench/cost.sh resilience      # plain vs retries + breakers + outlier detection + health checks + rate limit (issue 3: ≤ 15 %)
#   bash bench/cost.sh observability   # all off vs metrics + access log to a file + tracing at 1 % / 100 % with OTLP export (issue 4: ≤ 8 % / ≤ 20 %)
#   ROUNDS=16 SECONDS_PER_RUN=3 CONNS=64 bash bench/cost.sh observability
#   BEFORE_DIR=/path/to/other/checkout bash bench/cost.sh resilience   # adds that checkout's baseline route
set -u
SCENARIO=${1:-resilience}
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE_DIR=${SLUICE_DIR:-$(cd "$HERE/.." && pwd)}
ROUNDS=${ROUNDS:-12} DUR=${SECONDS_PER_RUN:-3} CONNS=${CONNS:-64}
NODE=${NODE:-$SLUICE_DIR/node_modules/.bin/node}
for t in nginx wrk taskset setsid curl; do command -v $t >/dev/null || { echo "missing: $t"; exit 2; }; done
W=$(mktemp -d /tmp/sluice-cost.XXXXXX)
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

config() { # NAME PORT EXTRA_UPSTREAM EXTRA_ROUTE EXTRA_TOP
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
$5
C
}

OBS_OFF='observability: { metrics: { enabled: false }, tracing: { enabled: false }, traceStore: { enabled: false } }'
case "$SCENARIO" in
  resilience)
    NAMES=(plain resilient)
    config plain "$(port)" "" "" "$OBS_OFF"
    config resilient "$(port)" '    healthCheck: { path: /, interval: 1s }
    circuitBreaker: {}
    outlierDetection: {}' '    retries: { attempts: 2, on: [connect-failure, 503] }
    rateLimit: { rate: 10000000/s, burst: 1000000, key: client-ip }' "$OBS_OFF"
    ;;
  observability)
    # An OTLP receiver that reads and discards, on the load generator's CPU: export costs Sluice what it would
    # cost against a real collector, minus the collector.
    OTLP=$(port)
    start 0 "$NODE" -e "require('http').createServer((q,s)=>{q.resume();q.on('end',()=>s.end())}).listen($OTLP,'127.0.0.1')"
    LOG="accessLog: { sink: { file: { path: \"$W/access-VARIANT.log\", maxSize: 64MiB, maxFiles: 1 } } }"
    NAMES=(off defaults sampled-1pct sampled-100pct)
    config off "$(port)" "" "" "$OBS_OFF"
    config defaults "$(port)" "" "" ""
    config sampled-1pct "$(port)" "" "" "observability:
  tracing: { sampler: { ratio: 0.01 }, otlp: { endpoint: \"http://127.0.0.1:$OTLP\" } }
  ${LOG/VARIANT/1}"
    config sampled-100pct "$(port)" "" "" "observability:
  tracing: { sampler: always, otlp: { endpoint: \"http://127.0.0.1:$OTLP\" } }
  ${LOG/VARIANT/100}"
    ;;
  *) echo "usage: bash bench/cost.sh resilience|observability"; exit 2 ;;
esac
if [ -n "${BEFORE_DIR:-}" ]; then
  cp "$W/${NAMES[0]}.yaml" "$W/before.yaml"
  NAMES=(before "${NAMES[@]}")
fi
for name in "${NAMES[@]}"; do
  dir=$SLUICE_DIR; [ "$name" = before ] && dir=$BEFORE_DIR
  # A fresh port for the copied baseline config.
  [ "$name" = before ] && sed -i "/^listeners/ s/127.0.0.1:[0-9]*/127.0.0.1:$(port)/" "$W/before.yaml"
  SLUICE_LOG_LEVEL=warn start 1 "$NODE" "$dir/bin/sluice.js" start -c "$W/$name.yaml" --workers 1
done
url() { echo "http://$(awk -F'"' '/listeners/ {print $2; exit}' "$W/$1.yaml")/"; }
for name in "${NAMES[@]}"; do
  for _ in $(seq 1 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$(url "$name")")" = 200 ] && break; sleep 0.1; done
  taskset -c 0 wrk -t1 -c"$CONNS" -d2s "$(url "$name")" >/dev/null # warm-up
done
for r in $(seq 1 "$ROUNDS"); do
  line="round $r:"
  for name in "${NAMES[@]}"; do
    rps=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${DUR}s" "$(url "$name")" | awk '/Requests\/sec/ {print $2}')
    echo "$name $r $rps" >>"$W/results"
    line="$line $name $rps"
  done
  echo "$line"
done
BASE=${NAMES[0]}; [ "$BASE" = before ] && BASE=${NAMES[1]}
"$NODE" -e '
const [file, base] = process.argv.slice(1);
const rows = require("fs").readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" "));
const by = {};
for (const [name, round, rps] of rows) (by[name] ??= {})[round] = Number(rps);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const ratio = (a, b) => median(Object.keys(by[a]).map((r) => by[a][r] / by[b][r]));
console.log(`| variant | median rps | vs ${base} (median of per-round ratios) | cost |`);
console.log("| --- | ---: | ---: | ---: |");
for (const name of Object.keys(by)) {
  const q = ratio(name, base);
  console.log(`| ${name} | ${median(Object.values(by[name])).toFixed(0)} | ${q.toFixed(3)} | ${((1 - q) * 100).toFixed(1)} % |`);
}
' "$W/results" "$BASE"

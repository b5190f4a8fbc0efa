#!/bin/bash
# Where a feature's cost goes, by function: two Sluices that differ only in config (or in checkout) are loaded at
# the same time on CPU 1 — as cost.sh pairs them — while `perf record -e cpu-clock` samples both; the report is
# samples per 1000 requests for each, by symbol (JIT code named through Node's --perf-basic-prof), sorted by the
# difference. One sample is 1/2999 s ≈ 333 µs of CPU, so 3 samples per 1000 requests is ≈ 1 µs a request.
# Leaf samples only: call stacks (-g) through JIT code are unreliable with perf maps, and a perf map is append-only,
# so code V8 later put at a freed address can show under the older name (a symbol that makes no sense for the
# config, such as "Eval:~ :1:1"). An A/A pair reads within ≈ ±3% in total on a quiet machine; per-symbol
# differences below ≈ 1 sample per 1000 requests are noise.
#   bash bench/perf-pair.sh "$A_CONFIG" "$B_CONFIG"
#   bash bench/perf-pair.sh '' 'observability: { accessLog: { sink: { file: { path: LOGFILE } } } }'
#   GROUP=dso …        # by kind of code instead: JS, builtins, node C++, kernel, libc…
#   FILTER='Json|line' # only symbols matching
#   DIR_B=/path/to/other/checkout bash bench/perf-pair.sh "$CONFIG" "$CONFIG"   # the same config, two builds
#   DURATION=10 WARMUP=6 CONNS=16 TOP=60
# Each config is top-level YAML appended to a one-route config (like profile.sh's EXTRA_CONFIG); OTLP_URL becomes
# a discarding OTLP receiver's address and LOGFILE a file in the run's directory. Needs perf (linux-perf), nginx,
# wrk, taskset and setsid; perf must be allowed to sample the processes (root, or kernel.perf_event_paranoid ≤ 1).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE_DIR=$(cd "$HERE/.." && pwd)
DIR_A=${DIR_A:-$SLUICE_DIR} DIR_B=${DIR_B:-$SLUICE_DIR}
NODE=${NODE:-$SLUICE_DIR/node_modules/.bin/node}
DURATION=${DURATION:-10} WARMUP=${WARMUP:-6} CONNS=${CONNS:-16}
[ $# -eq 2 ] || { sed -n '10,18p' "$0"; exit 2; }
for t in perf nginx wrk taskset setsid curl; do command -v $t >/dev/null || { echo "missing: $t"; exit 2; }; done
W=$(mktemp -d /tmp/sluice-perf-pair.XXXXXX)
GROUPS_TO_KILL=()
cleanup() {
  for g in "${GROUPS_TO_KILL[@]:-}"; do [ -n "$g" ] && kill -- -"$g" 2>/dev/null; done
  sleep 0.3
  for p in "${SLUICE_PIDS[@]:-}"; do rm -f "/tmp/perf-$p.map"; done # written by --perf-basic-prof
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$HERE/lib.sh"
port() { free_port "$W/ports"; }
start() { setsid taskset -c "$1" "${@:2}" >>"$W/log" 2>&1 & GROUPS_TO_KILL+=($!); }
ready() { for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "nothing answers on $1:"; cat "$W/log"; exit 2; }

UP=$(port) OTLP=$(port) PA=$(port) PB=$(port)
write_upstream_conf "$W" "$UP"
start 0 nginx -c "$W/up.conf"
start 0 "$NODE" -e "$(otlp_receiver_js "$OTLP")"
config() { # NAME PORT EXTRA
  cat >"$W/$1.yaml" <<C
listeners: [{ name: main, address: "127.0.0.1:$2" }]
upstreams: [{ name: app, targets: [{ url: "http://127.0.0.1:$UP" }] }]
routes: [{ name: all, upstream: app }]
admin: { address: "127.0.0.1:0" }
C
  local extra=${3//OTLP_URL/http://127.0.0.1:$OTLP}
  printf '%s\n' "${extra//LOGFILE/$W/$1.log}" >>"$W/$1.yaml"
}
config a "$PA" "$1"
config b "$PB" "$2"
SLUICE_PIDS=()
for side in a b; do
  dir=$DIR_A; [ $side = b ] && dir=$DIR_B
  dir=$(cd "$dir" && pwd) || exit 2
  # Started in $W: --perf-basic-prof also leaves an isolate-*-v8.log in the working directory.
  (cd "$W" && SLUICE_LOG_LEVEL=warn exec setsid taskset -c 1 "$NODE" --perf-basic-prof --interpreted-frames-native-stack \
    "$dir/bin/sluice.js" start -c "$W/$side.yaml" --workers 1 >>"$W/log" 2>&1) &
  GROUPS_TO_KILL+=($!); SLUICE_PIDS+=($!) # the subshell execs setsid, which execs taskset, then node: Sluice's own PID
done
ready "$PA"; ready "$PB"
both() { # SECONDS OUTPUT_PREFIX: wrk against both at once, waits for both
  taskset -c 0 wrk -t1 -c"$CONNS" -d"$1s" "http://127.0.0.1:$PA/" >"$W/$2-a" & local wa=$!
  taskset -c 0 wrk -t1 -c"$CONNS" -d"$1s" "http://127.0.0.1:$PB/" >"$W/$2-b" & local wb=$!
  [ "${3:-}" = record ] && { sleep 0.5; perf record -q -e cpu-clock -F 2999 -p "${SLUICE_PIDS[0]},${SLUICE_PIDS[1]}" -o "$W/perf.data" -- sleep $(( $1 - 1 )) 2>>"$W/log"; }
  wait $wa $wb
}
both "$WARMUP" warm
both "$DURATION" load record
requests() { awk '/requests in/ {print $1}' "$W/load-$1"; }
echo "a: ${DIR_A} $(requests a) requests; b: ${DIR_B} $(requests b) requests"
perf script -i "$W/perf.data" -F pid,ip,sym,dso 2>/dev/null >"$W/samples.txt"
"$NODE" "$HERE/perf-pair-report.mjs" "$W/samples.txt" "${SLUICE_PIDS[0]}" "$(requests a)" "${SLUICE_PIDS[1]}" "$(requests b)"

#!/bin/bash
# Profiles one proxy of the benchmark under load, alone, with the benchmark's pinning (proxy on CPU 1; upstream
# nginx and wrk on CPU 0): a CPU profile of the load window (V8's sampling profiler, as --cpu-prof, started after
# the warm-up by prof-preload.mjs) summarised by cpuprofile-top.mjs, and a --trace-gc run that gives bytes
# allocated and GC time per request.
#   bash bench/profile.sh                     # Sluice: cpu + gc
#   bash bench/profile.sh node-floor-undici   # the floor, for comparison (also: node-floor-undici-repo)
#   MODE=cpu|gc|both DURATION=10 CONNS=64 OUTDIR=/tmp/sluice-prof bash bench/profile.sh [NAME]
#   LOAD=moderate …   # run.sh's fixed moderate load (-c LAT_CONNS, LAT_THINK_MS think time) instead of saturation
#   EXTRA_CONFIG='observability: { tracing: { sampler: always, otlp: { endpoint: OTLP_URL } } }' bash bench/profile.sh
#                     # top-level config appended to Sluice's (OTLP_URL: a discarding receiver the script starts)
# Needs run.sh's tools and NODE_DIR (run `npm run bench` once, or bench/run.sh with ROUNDS=1).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE_DIR=${SLUICE_DIR:-$(cd "$HERE/.." && pwd)}
NODE_DIR=${NODE_DIR:-/tmp/peerbench/node}
NODE="$NODE_DIR/node_modules/.bin/node"
NAME=${1:-sluice} MODE=${MODE:-both} LOAD=${LOAD:-full} DURATION=${DURATION:-10} WARMUP=${WARMUP:-3} CONNS=${CONNS:-64}
OUTDIR=${OUTDIR:-/tmp/sluice-prof}
[ -x "$NODE" ] || { echo "no $NODE: run bench/run.sh once to install the peers"; exit 2; }
mkdir -p "$OUTDIR"
[ "$NAME" = sluice ] && echo "sluice source: $SLUICE_DIR, hash $(cd "$SLUICE_DIR" && find bin src package.json -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-10) (as run.sh prints it)"
WORK=$(mktemp -d /tmp/peerprof.XXXXXX)
GROUPS_TO_KILL=()
cleanup() { for g in "${GROUPS_TO_KILL[@]:-}"; do [ -n "$g" ] && kill -- -"$g" 2>/dev/null; done; sleep 0.3; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$HERE/lib.sh"
port() { free_port "$WORK/ports"; }
start() { setsid taskset -c "$1" "${@:2}" >>"$WORK/log" 2>&1 & echo $!; }
ready() { for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

UP=$(port) P=$(port)
write_upstream_conf "$WORK" "$UP"
UPG=$(start 0 nginx -c "$WORK/up.conf"); GROUPS_TO_KILL+=("$UPG"); ready "$UP" || { echo "upstream did not start"; exit 2; }
mkdir -p "$WORK/sluice"
cat >"$WORK/sluice/sluice.yaml" <<C
listeners:
  - name: bench
    address: 127.0.0.1:$P
upstreams:
  - name: up
    targets:
      - url: http://127.0.0.1:$UP
routes:
  - name: all
    upstream: up
admin:
  address: 127.0.0.1:0
C
if [ -n "${EXTRA_CONFIG:-}" ]; then
  # A discarding OTLP receiver on CPU 0, for configs that export: write OTLP_URL where its address goes.
  OTLP=$(port)
  GROUPS_TO_KILL+=("$(start 0 "$NODE" -e "$(otlp_receiver_js "$OTLP")")")
  printf '%s\n' "${EXTRA_CONFIG//OTLP_URL/http://127.0.0.1:$OTLP}" >>"$WORK/sluice/sluice.yaml"
fi
cmd() { # NODE_FLAGS -> command
  case $NAME in
    sluice) echo "$NODE $1 --import $HERE/prof-preload.mjs $SLUICE_DIR/bin/sluice.js start -c $WORK/sluice/sluice.yaml --workers 1";;
    node-floor-undici) echo "$NODE $1 --import $HERE/prof-preload.mjs $NODE_DIR/floor-undici.mjs $P $UP";;
    node-floor-undici-repo) echo "$NODE $1 --import $HERE/prof-preload.mjs $HERE/floor-undici.mjs $P $UP";;
    *) echo "unknown target $NAME (sluice | node-floor-undici | node-floor-undici-repo)" >&2; exit 2;;
  esac
}
printf 'function delay() return %d end\n' "${LAT_THINK_MS:-4}" >"$WORK/think.lua"
load() { # DURATION GROUP -> wrk output on stdout, then a line "others N" (CPU % of a core used by other processes)
  EXCLUDE_PID=$$ taskset -c 0 "$NODE" "$HERE/foreign-cpu.mjs" "$1" "$2" "$UPG" >"$WORK/busy" 2>/dev/null &
  local meter=$!
  if [ "$LOAD" = moderate ]; then
    taskset -c 0 wrk -t1 -c"${LAT_CONNS:-8}" -d"$1"s --latency -s "$WORK/think.lua" "http://127.0.0.1:$P/"
  else
    taskset -c 0 wrk -t1 -c"$CONNS" -d"$1"s --latency "http://127.0.0.1:$P/"
  fi
  wait $meter; echo "others $(cat "$WORK/busy")"; }
stop() { kill -TERM -- -"$1" 2>/dev/null; for _ in $(seq 1 50); do kill -0 -- -"$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 -- -"$1" 2>/dev/null; }

if [ "$MODE" = cpu ] || [ "$MODE" = both ]; then
  prof="$OUTDIR/$NAME-$(date +%Y%m%d-%H%M%S).cpuprofile"
  g=$(start 1 env PROF_OUT="$prof" bash -c "exec $(cmd "")"); GROUPS_TO_KILL+=("$g")
  ready "$P" || { echo "$NAME did not answer"; cat "$WORK/log"; exit 2; }
  load "$WARMUP" "$g" >/dev/null 2>&1
  kill -USR2 "$g"; sleep 0.2
  load "$DURATION" "$g" >"$WORK/wrk-cpu" 2>&1
  stop "$g"
  echo "== $NAME profiled: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-cpu") rps (profiling costs a few %); other processes used $(awk '/^others/ {print $2}' "$WORK/wrk-cpu")% of a core meanwhile"
  if [ -s "$prof" ]; then echo "profile: $prof"; "$NODE" "$HERE/cpuprofile-top.mjs" "$prof" "${TOP:-25}"; else echo "no profile written"; fi
fi

if [ "$MODE" = gc ] || [ "$MODE" = both ]; then
  : >"$WORK/log"
  g=$(start 1 bash -c "exec $(cmd --trace-gc)"); GROUPS_TO_KILL+=("$g")
  ready "$P" || { echo "$NAME did not answer"; exit 2; }
  load "$WARMUP" "$g" >/dev/null 2>&1
  before=$(wc -l <"$WORK/log")
  load "$DURATION" "$g" >"$WORK/wrk-gc" 2>&1
  after=$(wc -l <"$WORK/log")
  stop "$g"
  reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk-gc")
  echo
  echo "== $NAME under --trace-gc ($LOAD load): $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-gc") rps, $reqs requests in ${DURATION}s, p50 $(awk '$1=="50%" {print $2}' "$WORK/wrk-gc") p99 $(awk '$1=="99%" {print $2}' "$WORK/wrk-gc"); other processes used $(awk '/^others/ {print $2}' "$WORK/wrk-gc")% of a core meanwhile"
  sed -n "$((before + 1)),${after}p" "$WORK/log" | "$NODE" -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n");
    const re = /: (Scavenge|Mark-Compact|Mark-Sweep|Minor Mark-Sweep)\b.*?([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB.*?, ([\d.]+) \/ ([\d.]+) ms/;
    let prevEnd, alloc = 0, n = {}, pause = 0, worst = 0; const pauses = [];
    for (const l of lines) {
      const m = re.exec(l); if (!m) continue;
      const [, kind, start, , end] = m; const ms = +m[6];
      n[kind] = (n[kind] ?? 0) + 1; pause += ms; worst = Math.max(worst, ms); pauses.push(ms);
      if (prevEnd !== undefined) alloc += Math.max(0, +start - prevEnd);
      prevEnd = +end;
    }
    const reqs = +process.argv[1], dur = +process.argv[2];
    console.log("GCs:", JSON.stringify(n), `pause total ${pause.toFixed(0)} ms (${(100 * pause / (dur * 1000)).toFixed(1)}% of wall), worst ${worst.toFixed(1)} ms`);
    pauses.sort((a, b) => a - b);
    if (pauses.length) console.log(`GC pauses: median ${pauses[Math.floor(pauses.length / 2)].toFixed(2)} ms, one every ${(dur * 1000 / pauses.length).toFixed(0)} ms on average`);
    console.log(`allocated ≈ ${alloc.toFixed(0)} MB between GCs → ≈ ${(alloc * 1048576 / reqs / 1024).toFixed(1)} KiB per request (young-generation churn, from --trace-gc heap sizes)`);
  ' "$reqs" "$DURATION"
fi

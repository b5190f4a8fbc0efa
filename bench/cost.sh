#!/bin/bash
# What a feature costs in throughput: the same route served by several Sluice processes that differ only in the
# feature's config, against a baseline (the first variant). All are pinned to CPU 1, nginx (the upstream) and wrk to
# CPU 0, as in run.sh; every round starts every variant afresh. By default (METHOD=paired) each variant is loaded
# at the same time as the baseline, the two sharing CPU 1: whatever else slows the machine slows both alike, so
# their ratio holds up where sequential runs swing (an A/A pair: ±4% by CPU per request, while one variant's own
# figure drifted from 80 to 140 µs within minutes). METHOD=sequential runs them one after the other in a rotated
# order. Each variant's median of per-round ratios to the baseline is reported, by rps and by Sluice's CPU time
# per request (user + system, all threads, from /proc): the work a feature adds.
#
#   bash bench/cost.sh resilience      # plain vs retries + breakers + outlier detection + health checks + rate limit (issue 3: ≤ 15 %)
#   bash bench/cost.sh observability   # all off vs metrics + access log to a file + tracing at 1 % / 100 % with OTLP export (issue 4: ≤ 8 % / ≤ 20 %)
#   bash bench/cost.sh plugins         # no plugins vs jwt + rate-limit + headers (issue 6: ≤ 20 %)
#   bash bench/cost.sh calibration     # ≈ 2.4 µs of synthetic work a request: arithmetic vs JSON.stringify
#   ROUNDS=16 SECONDS_PER_RUN=3 CONNS=64 bash bench/cost.sh observability
#   BEFORE_DIR=/path/to/other/checkout bash bench/cost.sh resilience   # adds that checkout's baseline route
#   AA=1 bash bench/cost.sh observability   # adds a copy of the baseline: the method's own error (should read ≈ 0)
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
source "$HERE/lib.sh"
port() { free_port "$W/ports"; }
start() { setsid taskset -c "$1" "${@:2}" >>"$W/log" 2>&1 & GROUPS_TO_KILL+=($!); }

UP=$(port)
write_upstream_conf "$W" "$UP"
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

WRK_HEADER=()
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
    # The OTLP receiver on the load generator's CPU.
    OTLP=$(port)
    start 0 "$NODE" -e "$(otlp_receiver_js "$OTLP")"
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
    if [ -n "${EACH:-}" ]; then # EACH=1: each part alone too, to see which costs what
      NAMES+=(metrics-only log-only trace-100pct-only)
      config metrics-only "$(port)" "" "" "observability: { tracing: { enabled: false }, traceStore: { enabled: false } }"
      config log-only "$(port)" "" "" "observability:
  metrics: { enabled: false }
  tracing: { enabled: false }
  traceStore: { enabled: false }
  ${LOG/VARIANT/log}"
      config trace-100pct-only "$(port)" "" "" "observability:
  metrics: { enabled: false }
  tracing: { sampler: always, otlp: { endpoint: \"http://127.0.0.1:$OTLP\" } }"
    fi
    ;;
  plugins)
    # jwt (RS256, a key in the config) + rate-limit (too high to reject) + headers, against the same route with no
    # plugins; jwt once with its verified-token cache (the default) and once verifying every request's signature.
    (cd "$SLUICE_DIR" && "$NODE" --input-type=module -e "
      import { generateKeyPair, exportSPKI, SignJWT } from 'jose';
      import { writeFileSync } from 'node:fs';
      const { publicKey, privateKey } = await generateKeyPair('RS256');
      const token = await new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'RS256' }).setIssuer('bench').setAudience('api').setExpirationTime('2h').sign(privateKey);
      writeFileSync('$W/public.pem', await exportSPKI(publicKey));
      writeFileSync('$W/token', token);
    ") || { echo "could not make a token"; exit 2; }
    PEM=$(sed 's/^/            /' "$W/public.pem")
    JWT=$(printf '      - jwt:\n          issuer: bench\n          audience: api\n          cache: { tokens: CACHE }\n          publicKey: |\n%s' "$PEM")
    RATE='      - rate-limit: { rate: 10000000/s, burst: 1000000, key: client-ip }'
    HEADERS='      - headers: { request: { set: { x-gateway: sluice } }, response: { set: { x-served-by: sluice } } }'
    NAMES=(none all-cached all-verify-every)
    config none "$(port)" "" "" "$OBS_OFF"
    config all-cached "$(port)" "" "$(printf '    plugins:\n%s\n%s\n%s' "${JWT/CACHE/10000}" "$RATE" "$HEADERS")" "$OBS_OFF"
    config all-verify-every "$(port)" "" "$(printf '    plugins:\n%s\n%s\n%s' "${JWT/CACHE/0}" "$RATE" "$HEADERS")" "$OBS_OFF"
    if [ -n "${EACH:-}" ]; then # EACH=1: each plugin alone too, to see which costs what
      NAMES+=(jwt-cached rate-limit headers)
      config jwt-cached "$(port)" "" "$(printf '    plugins:\n%s' "${JWT/CACHE/10000}")" "$OBS_OFF"
      config rate-limit "$(port)" "" "$(printf '    plugins:\n%s' "$RATE")" "$OBS_OFF"
      config headers "$(port)" "" "$(printf '    plugins:\n%s' "$HEADERS")" "$OBS_OFF"
      NAMES+=(jwt-rate rate-headers)
      config jwt-rate "$(port)" "" "$(printf '    plugins:\n%s\n%s' "${JWT/CACHE/10000}" "$RATE")" "$OBS_OFF"
      config rate-headers "$(port)" "" "$(printf '    plugins:\n%s\n%s' "$RATE" "$HEADERS")" "$OBS_OFF"
    fi
    WRK_HEADER=(-H "Authorization: Bearer $(cat "$W/token")")
    ;;
  calibration)
    # What a fixed amount of work per request costs the gateway, by kind (bench/synthetic-work.mjs): ≈ 2.4 µs of
    # arithmetic, and ≈ 2.4 µs of JSON.stringify (allocating), each against the same config without it.
    NAMES=(plain compute stringify)
    for name in "${NAMES[@]}"; do config "$name" "$(port)" "" "" "$OBS_OFF"; done
    for name in compute stringify; do echo "--import $HERE/synthetic-work.mjs" >"$W/$name.flags"; echo "SYNTHETIC_WORK=$name" >"$W/$name.env"; done
    ;;
  *) echo "usage: bash bench/cost.sh resilience|observability|plugins|calibration"; exit 2 ;;
esac
# A copy of the baseline's config under another name, on a port of its own.
copy_baseline() { sed "/^listeners/ s/127.0.0.1:[0-9]*/127.0.0.1:$(port)/" "$W/${NAMES[0]}.yaml" >"$W/$1.yaml"; }
[ -n "${AA:-}" ] && { copy_baseline baseline-again; NAMES+=(baseline-again); }
[ -n "${BEFORE_DIR:-}" ] && { copy_baseline before; NAMES=(before "${NAMES[@]}"); }
# CPU time (user + system, every thread, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
url() { echo "http://$(awk -F'"' '/listeners/ {print $2; exit}' "$W/$1.yaml")/"; }
# Every round starts every variant afresh: one process kept for all rounds carries its own bias (memory layout, JIT
# decisions) — two identical configs once differed by 10% — which fresh processes average out.
start_variant() { # NAME: starts it (not waiting for it)
  local name=$1 dir=$SLUICE_DIR
  [ "$name" = before ] && dir=$BEFORE_DIR
  # A variant's own environment and node flags, when it has them (calibration).
  local envs=() flags=(); [ -f "$W/$name.env" ] && read -ra envs <"$W/$name.env"; [ -f "$W/$name.flags" ] && read -ra flags <"$W/$name.flags"
  env "${envs[@]}" SLUICE_LOG_LEVEL=warn setsid taskset -c 1 "$NODE" "${flags[@]}" "$dir/bin/sluice.js" start -c "$W/$name.yaml" --workers 1 >>"$W/log" 2>&1 &
  SLUICE_GROUPS+=($!)
  printf -v "PID_${name//-/_}" '%s' "$!" # setsid and taskset exec: this is Sluice's own PID
}
wait_ready() { # NAME
  for _ in $(seq 1 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "${WRK_HEADER[@]}" "$(url "$1")")" = 200 ] && return; sleep 0.1; done
  echo "$1 does not answer 200:"; cat "$W/log"; exit 2
}
# A fresh process's first seconds cost it up to a third more CPU per request: every measurement follows a warm-up.
WARMUP=${WARMUP:-$([ "${METHOD:-paired}" = paired ] && echo 6 || echo 2)}
start_variants() { # NAME… : started, ready and warmed one after the other
  for name in "$@"; do start_variant "$name"; done
  for name in "$@"; do
    wait_ready "$name"
    taskset -c 0 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${WRK_HEADER[@]}" "$(url "$name")" >/dev/null
  done
}
stop_variants() { # stops what start_variant started since the last stop
  for g in "${SLUICE_GROUPS[@]:-}"; do [ -n "$g" ] && kill -- -"$g" 2>/dev/null; done
  for g in "${SLUICE_GROUPS[@]:-}"; do [ -n "$g" ] && wait "$g" 2>/dev/null; done # our children: wait reaps them
  SLUICE_GROUPS=()
}
SLUICE_GROUPS=()
trap 'stop_variants; cleanup' EXIT
# One wrk run against NAME, in the background: its output goes to $W/wrk-NAME; loads_done waits for the runs
# (only them: nginx and the OTLP receiver are children of this script too).
LOADS=()
load() { taskset -c 0 wrk -t1 -c"$1" -d"${3:-$DUR}s" "${WRK_HEADER[@]}" "$(url "$2")" >"$W/wrk-$2" & LOADS+=($!); } # CONNS NAME [SECONDS]
loads_done() { wait "${LOADS[@]}"; LOADS=(); }
measure_start() { local v="PID_${1//-/_}"; printf -v "TICKS_${1//-/_}" '%s' "$(cpu_ticks "${!v}")"; }
# Appends "NAME ROUND RPS US" to the results from the finished wrk run and the CPU ticks since measure_start.
measure_end() {
  local v="PID_${1//-/_}" t="TICKS_${1//-/_}"
  local ticks=$(( $(cpu_ticks "${!v}") - ${!t} ))
  local rps requests us
  rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk-$1"); requests=$(awk '/requests in/ {print $1}' "$W/wrk-$1")
  us=$(awk -v t="$ticks" -v u="$TICK_US" -v n="$requests" 'BEGIN { printf "%.2f", t * u / n }')
  echo "$1 $2 $rps $us" >>"$W/results"
  echo "$1 $rps (${us} µs)"
}
for r in $(seq 1 "$ROUNDS"); do
  line="round $r:"
  if [ "${METHOD:-paired}" = paired ]; then
    # Paired (the default): the baseline and one variant, both started afresh, warmed and then loaded at the same
    # time, pinned to CPU 1: the scheduler shares the core between them and whatever slows the machine meanwhile
    # slows both alike, so their ratio holds even when the machine's speed drifts by half between rounds, which
    # sequential runs do not. A fresh baseline for every pairing: one baseline kept for all the round's pairings
    # ran ahead of variants that waited idle for their turn (an A/A pair measured last read 7% "cost").
    base=${NAMES[0]}
    for name in "${NAMES[@]:1}"; do
      start_variant "$base"; start_variant "$name"; wait_ready "$base"; wait_ready "$name"
      load $((CONNS / 2)) "$base" "$WARMUP"; load $((CONNS / 2)) "$name" "$WARMUP"; loads_done
      measure_start "$base"; measure_start "$name"
      load $((CONNS / 2)) "$base"; load $((CONNS / 2)) "$name"; loads_done
      line="$line [$(measure_end "$base" "$r.$name") | $(measure_end "$name" "$r.$name")]"
      stop_variants
    done
  else
    # METHOD=sequential: one variant at a time, in a rotated order.
    start_variants "${NAMES[@]}"
    k=$(( (r - 1) % ${#NAMES[@]} ))
    for name in "${NAMES[@]:k}" "${NAMES[@]:0:k}"; do
      measure_start "$name"; load "$CONNS" "$name"; loads_done
      line="$line $(measure_end "$name" "$r")"
    done
    stop_variants
  fi
  echo "$line"
done
# Sequential runs compare with the current baseline; paired ones with what each variant was paired with (with
# BEFORE_DIR, the other checkout: the current baseline is then one of the variants).
BASE=${NAMES[0]}; [ "$BASE" = before ] && [ "${METHOD:-paired}" = sequential ] && BASE=${NAMES[1]}
"$NODE" -e '
const [file, base] = process.argv.slice(1);
const rows = require("fs").readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(" "));
const by = {};
for (const [name, round, rps, us] of rows) (by[name] ??= {})[round] = { rps: Number(rps), us: Number(us) };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// Paired rows are keyed "round.variant" (the baseline has one row per pairing); sequential ones by round.
const ratio = (a, b, k) => median(Object.keys(by[a]).filter((r) => by[b][r] !== undefined).map((r) => by[a][r][k] / by[b][r][k]));
console.log(`| variant | median rps | rps vs ${base} | CPU µs/request | CPU vs ${base} | cost by rps | cost by CPU |`);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const name of Object.keys(by)) {
  const q = ratio(name, base, "rps");
  const c = ratio(name, base, "us");
  const us = median(Object.values(by[name]).map((x) => x.us));
  const rps = median(Object.values(by[name]).map((x) => x.rps));
  // Throughput at saturation goes as 1 / CPU per request: a variant using c× the CPU serves 1/c of the rps.
  console.log(`| ${name} | ${rps.toFixed(0)} | ${q.toFixed(3)} | ${us.toFixed(1)} | ${c.toFixed(3)} | ${((1 - q) * 100).toFixed(1)} % | ${((1 - 1 / c) * 100).toFixed(1)} % |`);
}
' "$W/results" "$BASE"

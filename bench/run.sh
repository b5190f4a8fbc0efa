#!/bin/bash
# Sluice's peer benchmark (`npm run bench`): Sluice side by side with nginx, haproxy, the bare Node floors and the
# Node peers, in one run. The method is the shared harness's (/work/shared/bench/run.sh):
#   - the proxy under test is pinned to CPU 1; the upstream (nginx, 1 worker, fixed 100-byte body) and wrk to CPU 0;
#   - every proxy is started fresh in every round, rounds are interleaved (each round runs every proxy once);
#   - medians over rounds are reported.
# Two measurements per proxy and round:
#   - throughput: wrk -c$CONNS (64) for $DURATION s after a $WARMUP s warm-up (rps, p50/p99 at saturation, RSS);
#   - latency at a fixed moderate load: wrk -c$LAT_CONNS (8) where each connection waits $LAT_THINK_MS (4) ms after
#     every response before sending the next request (wrk's Lua delay(); wrk2 is not available), ≈ 1.7–1.8k rps
#     offered to every proxy — a third or less of what the Node floor can do — for $LAT_DURATION (6) s; by default
#     for nginx, the undici floor and Sluice only (LAT_ONLY=all: every proxy).
# Sluice runs as `sluice start --workers 1` on the same Node binary as the Node peers ($NODE_DIR's node@24), with a
# minimal config: one listener, one upstream, one catch-all route, admin on an ephemeral port, no access log.
# Interference: the machine may be shared. Before each measurement the script waits (at most QUIET_WAIT s) for a
# quiet machine, and foreign-cpu.mjs measures the CPU other processes use during it; above BUSY_MAX % of a core the
# measurement is taken once more, and rounds still disturbed are marked and left out of the medians when a clean
# round exists (BUSY_MAX=0 turns this off).
#
#   npm run bench                                   # ROUNDS=3 DURATION=8 WARMUP=2 CONNS=64: about 6 minutes
#   ROUNDS=5 OUT=/tmp/bench.md npm run bench        # also write the report there
#   ONLY='node-floor-undici sluice' ROUNDS=5 npm run bench
#   EXTRA_NAME=other EXTRA_SETUP='…' EXTRA_CMD='…{PORT}…{UPSTREAM_PORT}…' npm run bench   # as in the shared script
#
# Knobs: ROUNDS DURATION WARMUP CONNS ONLY (space-separated subset of the names in NAMES below, plus
# `node-floor-undici-repo`: the floor on the repo's own undici) LAT_CONNS LAT_THINK_MS LAT_DURATION (0 skips)
# LAT_ONLY LAT_SLICES (3) PAIRED_SLICES (0: off; n: n alternating head-to-head throughput slices per round of
# PAIRED_SECONDS (2) for the LAT_ONLY proxies) BUSY_MAX (15) QUIET_WAIT (20) NODE_DIR SLUICE_DIR OUT SLUICE_ARGS
# (node flags for Sluice). See README.md.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE_DIR=${SLUICE_DIR:-$(cd "$HERE/.." && pwd)}
NODE_DIR=${NODE_DIR:-/tmp/peerbench/node}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-8} WARMUP=${WARMUP:-2} CONNS=${CONNS:-64}
LAT_CONNS=${LAT_CONNS:-8} LAT_THINK_MS=${LAT_THINK_MS:-4} LAT_DURATION=${LAT_DURATION:-6} LAT_SLICES=${LAT_SLICES:-3}
LAT_WARMUP=${LAT_WARMUP:-$WARMUP} PAIRED_SLICES=${PAIRED_SLICES:-0} PAIRED_SECONDS=${PAIRED_SECONDS:-2}
SLUICE_ARGS=${SLUICE_ARGS:-}
BUSY_MAX=${BUSY_MAX:-15} QUIET_WAIT=${QUIET_WAIT:-20}
LAT_ONLY=${LAT_ONLY:-nginx node-floor-undici sluice}
WORK=$(mktemp -d /tmp/peerbench.XXXXXX)
GROUPS_TO_KILL=()
cleanup() { for g in "${GROUPS_TO_KILL[@]:-}"; do [ -n "$g" ] && kill -- -"$g" 2>/dev/null; done; sleep 0.3; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

missing=()
for t in nginx haproxy wrk taskset setsid curl; do command -v $t >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]}"
  echo "install with: apt-get install -y nginx haproxy wrk util-linux curl"
  exit 2
fi
if [ ! -x "$NODE_DIR/node_modules/.bin/node" ] || [ ! -d "$NODE_DIR/node_modules/fast-gateway" ]; then
  echo "installing the Node peers into $NODE_DIR (once)…" >&2
  mkdir -p "$NODE_DIR" && (cd "$NODE_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm i --no-audit --no-fund fast-gateway@3.4.7 @fastify/http-proxy fastify http-proxy undici node@24 >/dev/null 2>&1) || { echo "npm install of peers failed"; exit 2; }
fi
cp "$HERE"/*.mjs "$HERE"/*.cjs "$NODE_DIR"/
NODE="$NODE_DIR/node_modules/.bin/node"
if [ ! -f "$SLUICE_DIR/bin/sluice.js" ] || [ ! -d "$SLUICE_DIR/node_modules/undici" ]; then
  echo "no Sluice with its dependencies at $SLUICE_DIR (run npm ci there)"; exit 2
fi
# Every round must measure the same code, also when src/ is being edited during the run: Sluice runs from a copy of
# bin/, src/ and package.json taken now (node_modules linked). SLUICE_SNAPSHOT=0 runs the tree in place.
SLUICE_REV=$(git -C "$SLUICE_DIR" rev-parse --short HEAD 2>/dev/null || echo 'no git checkout')
SLUICE_DIRTY=$(git -C "$SLUICE_DIR" status --porcelain -- src bin package.json 2>/dev/null | wc -l)
SLUICE_HASH=$(cd "$SLUICE_DIR" && find bin src package.json -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-10)
SLUICE_RUN=$SLUICE_DIR
if [ "${SLUICE_SNAPSHOT:-1}" != 0 ]; then
  SLUICE_RUN="$WORK/sluice-tree"
  mkdir -p "$SLUICE_RUN" && cp -r "$SLUICE_DIR/bin" "$SLUICE_DIR/src" "$SLUICE_DIR/package.json" "$SLUICE_RUN/" &&
    ln -s "$SLUICE_DIR/node_modules" "$SLUICE_RUN/node_modules" || { echo "could not copy Sluice to $SLUICE_RUN"; exit 2; }
fi
port() { "$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
start() { # CPU command... ; echo process group id
  setsid taskset -c "$1" "${@:2}" >>"$WORK/log" 2>&1 & echo $!; }
ready() { for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }
rss_mib() { # largest RSS in the process group, MiB
  ps -o rss= -g "$1" 2>/dev/null | sort -n | tail -1 | awk '{printf "%.0f", $1/1024}'; }

UP=$(port)
BODY=$(printf 'x%.0s' $(seq 1 100))
cat >"$WORK/up.conf" <<C
worker_processes 1; daemon off; pid $WORK/up.pid; error_log $WORK/up.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$UP; keepalive_requests 1000000; location / { return 200 "$BODY"; } } }
C
UPG=$(start 0 nginx -c "$WORK/up.conf"); GROUPS_TO_KILL+=("$UPG"); ready "$UP" || { echo "upstream did not start"; cat "$WORK/log"; exit 2; }

# The fixed moderate load: every connection thinks LAT_THINK_MS after each response (wrk measures from the write);
# at the end wrk's latency histogram (µs value, count) goes to $HIST_OUT so slices can be pooled.
cat >"$WORK/lat.lua" <<L
function delay() return $LAT_THINK_MS end
function done(summary, latency, requests)
  local f = io.open(os.getenv("HIST_OUT"), "w")
  local i = 1
  while true do
    local v, c = latency(i)
    if v == 0 then break end
    f:write(v, " ", c, "\n")
    i = i + 1
  end
  f:close()
end
L

sluice_config() { # PORT -> config file, alone in its directory (Sluice watches the directory for edits)
  mkdir -p "$WORK/sluice-$1"
  cat >"$WORK/sluice-$1/sluice.yaml" <<C
# Minimal: one listener, one upstream, one catch-all route; admin on an ephemeral port (Sluice has no access log yet).
listeners:
  - name: bench
    address: 127.0.0.1:$1
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
  echo "$WORK/sluice-$1/sluice.yaml"
}

proxy_cmd() { # NAME PORT -> command line
  local p=$2
  case $1 in
    nginx) cat >"$WORK/nginx-$p.conf" <<C
worker_processes 1; daemon off; pid $WORK/nginx-$p.pid; error_log $WORK/nginx-$p.err;
events { worker_connections 4096; }
http { access_log off; upstream u { server 127.0.0.1:$UP; keepalive 128; }
  server { listen 127.0.0.1:$p; keepalive_requests 1000000; location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
C
      echo "nginx -c $WORK/nginx-$p.conf";;
    haproxy) cat >"$WORK/haproxy-$p.cfg" <<C
global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend f
  bind 127.0.0.1:$p
  default_backend b
backend b
  http-reuse always
  server s1 127.0.0.1:$UP
C
      echo "haproxy -f $WORK/haproxy-$p.cfg";;
    node-floor-undici) echo "$NODE $NODE_DIR/floor-undici.mjs $p $UP";;
    # the same floor, resolving undici from the repo (the version Sluice runs on) instead of NODE_DIR's
    node-floor-undici-repo) echo "$NODE $HERE/floor-undici.mjs $p $UP";;
    node-floor-http) echo "$NODE $NODE_DIR/floor-http.mjs $p $UP";;
    fast-gateway) echo "$NODE $NODE_DIR/fast-gateway.cjs $p $UP";;
    fastify-http-proxy) echo "$NODE $NODE_DIR/fastify-proxy.mjs $p $UP";;
    http-proxy) echo "$NODE $NODE_DIR/node-http-proxy.cjs $p $UP";;
    sluice) echo "$NODE $SLUICE_ARGS $SLUICE_RUN/bin/sluice.js start -c $(sluice_config "$p") --workers 1";;
    extra) echo "${EXTRA_CMD//\{PORT\}/$p}" | sed "s/{UPSTREAM_PORT}/$UP/g";;
    *) echo "unknown proxy $1" >&2; echo false;;
  esac
}
NAMES=(${ONLY:-nginx haproxy node-floor-undici node-floor-http fast-gateway fastify-http-proxy http-proxy sluice})
declare -A PORTS
for n in "${NAMES[@]}"; do PORTS[$n]=$(port); done
if [ -n "${EXTRA_CMD:-}" ]; then
  NAMES+=(extra); PORTS[extra]=$(port)
  [ -n "${EXTRA_SETUP:-}" ] && bash -c "$(echo "${EXTRA_SETUP//\{PORT\}/${PORTS[extra]}}" | sed "s/{UPSTREAM_PORT}/$UP/g")"
fi

nlat=0; for n in "${NAMES[@]}"; do { [ "$LAT_ONLY" = all ] || [[ " $LAT_ONLY " == *" $n "* ]]; } && nlat=$((nlat + 1)); done
[ "$LAT_DURATION" = 0 ] && [ "$PAIRED_SLICES" = 0 ] && nlat=0
secs=$(( ROUNDS * (${#NAMES[@]} * (WARMUP + DURATION + 2) + nlat * (LAT_WARMUP + LAT_DURATION + PAIRED_SLICES * PAIRED_SECONDS + 2)) + DURATION ))
echo "sluice bench: ${#NAMES[@]} proxies × $ROUNDS rounds (side-by-side phase for $nlat of them): about $((secs / 60)) min $((secs % 60)) s on a quiet machine" >&2

to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}' <<<"$1"; }
wrk_fields() { # FILE -> "rps p50 p99 max errors"
  local rps p50 p99 max errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$1")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' "$1")"); p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$1")")
  max=$(to_ms "$(awk '$1=="Latency" && NF>=4 {print $4; exit}' "$1")")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' "$1" | tr '\n' ' ')
  errs=${errs// /_}
  echo "${rps:-0} ${p50:-0} ${p99:-0} ${max:-0} ${errs:--}"
}
# the upstream alone
taskset -c 0 wrk -t1 -c"$CONNS" -d"$DURATION"s --latency "http://127.0.0.1:$UP/" >"$WORK/wrk-up" 2>&1
UPRPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-up")
busy_now() { # % of one core used on the whole machine over 0.25 s (call while the benchmark's processes are idle)
  local a b; a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat); sleep 0.25; b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat)
  echo $(( (b - a) * 4 )); }
wait_quiet() { # wait (at most QUIET_WAIT s) until the machine is quiet before measuring
  local waited=0 busy
  [ "$BUSY_MAX" = 0 ] && return
  while busy=$(busy_now); [ "$busy" -gt "$BUSY_MAX" ] && [ "$waited" -lt $((QUIET_WAIT * 4)) ]; do
    [ "$waited" = 0 ] && echo "  machine busy (${busy}% of a core used by others): waiting up to ${QUIET_WAIT}s" >&2
    waited=$((waited + 1))
  done
}
measure() { # KIND PORT "GROUPS" SECONDS WRK_ARGS... -> wrk output in $WORK/wrk-KIND, others' CPU % in $WORK/busy-KIND
  # waits for a quiet machine; a measurement during which other processes kept more than BUSY_MAX % of a core busy
  # is taken once more (and flagged in the report if it is still disturbed)
  local kind=$1 p=$2 g=$3 secs=$4 try busy meter
  for try in 0 1; do
    wait_quiet
    # shellcheck disable=SC2086 # $g: the benchmark's process groups, space-separated
    EXCLUDE_PID=$$ taskset -c 0 "$NODE" "$HERE/foreign-cpu.mjs" "$secs" $g "$UPG" >"$WORK/busy-$kind" 2>/dev/null &
    meter=$!
    taskset -c 0 wrk -t1 -d"$secs"s --latency "${@:5}" "http://127.0.0.1:$p/" >"$WORK/wrk-$kind" 2>&1
    wait "$meter"
    busy=$(cat "$WORK/busy-$kind"); busy=${busy:-0}; echo "$busy" >"$WORK/busy-$kind"
    { [ "$BUSY_MAX" = 0 ] || [ "$busy" -le "$BUSY_MAX" ]; } && break
    [ "$try" = 0 ] && echo "  $kind: other processes used ${busy}% of a core during the run; measuring again" >&2
  done
}
LATN=()
if [ "$LAT_DURATION" != 0 ] || [ "$PAIRED_SLICES" != 0 ]; then
  for n in "${NAMES[@]}"; do { [ "$LAT_ONLY" = all ] || [[ " $LAT_ONLY " == *" $n "* ]]; } && LATN+=("$n"); done
fi
T0=$SECONDS
stamp() { printf '[%d:%02d]' $(((SECONDS - T0) / 60)) $(((SECONDS - T0) % 60)); }
stop_group() { kill -- -"$1" 2>/dev/null; sleep 0.5; kill -9 -- -"$1" 2>/dev/null; }
for r in $(seq 1 "$ROUNDS"); do
  # throughput: each proxy alone, started fresh
  for n in "${NAMES[@]}"; do
    p=${PORTS[$n]}
    g=$(start 1 bash -c "exec $(proxy_cmd "$n" "$p")"); GROUPS_TO_KILL+=("$g")
    if ! ready "$p"; then echo "round $r: $n did not answer" >&2; stop_group "$g"; continue; fi
    taskset -c 0 wrk -t1 -c"$CONNS" -d"$WARMUP"s "http://127.0.0.1:$p/" >/dev/null 2>&1
    measure tput "$p" "$g" "$DURATION" -c"$CONNS"
    echo "tput $n $(wrk_fields "$WORK/wrk-tput") $(rss_mib "$g") $(cat "$WORK/busy-tput")" >>"$WORK/results"
    echo "$(stamp) round $r/$ROUNDS $n: $(awk '/Requests\/sec/ {printf "%.0f rps", $2}' "$WORK/wrk-tput") (others $(cat "$WORK/busy-tput")%)" >&2
    stop_group "$g"
  done
  # side by side: the LAT_ONLY proxies run together on CPU 1 (all idle but the one measured), started fresh and
  # warmed up, and are measured in alternating slices (order rotated every slice) so that slow changes of the
  # machine hit them alike: latency at the fixed moderate load (slices pooled per proxy in the report) and,
  # optionally, head-to-head throughput
  [ ${#LATN[@]} -gt 0 ] || continue
  declare -A LG=()
  for n in "${LATN[@]}"; do g=$(start 1 bash -c "exec $(proxy_cmd "$n" "${PORTS[$n]}")"); GROUPS_TO_KILL+=("$g"); LG[$n]=$g; done
  live=()
  for n in "${LATN[@]}"; do
    if ready "${PORTS[$n]}"; then live+=("$n"); else echo "round $r: $n did not answer (latency run)" >&2; fi
  done
  for n in "${live[@]}"; do taskset -c 0 wrk -t1 -c"$CONNS" -d"$LAT_WARMUP"s "http://127.0.0.1:${PORTS[$n]}/" >/dev/null 2>&1; done
  # optional head-to-head throughput: the same side-by-side proxies, CONNS connections, alternating short slices,
  # so that the ratios between them are not at the mercy of slow changes of a shared machine
  if [ "$PAIRED_SLICES" != 0 ]; then
    line="round $r/$ROUNDS head-to-head rps:"
    for s in $(seq 1 "$PAIRED_SLICES"); do
      for k in $(seq 0 $((${#live[@]} - 1))); do
        n=${live[$(( (k + s + r) % ${#live[@]} ))]}
        measure pair "${PORTS[$n]}" "${LG[*]}" "$PAIRED_SECONDS" -c"$CONNS"
        echo "pair $n $(wrk_fields "$WORK/wrk-pair") $(cat "$WORK/busy-pair") $r $s" >>"$WORK/results"
        line+=" $n $(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/wrk-pair")"
      done
    done
    echo "$(stamp) $line" >&2
  fi
  slice=$(awk -v d="$LAT_DURATION" -v s="$LAT_SLICES" 'BEGIN {v = d / s; printf "%d", v < 1 ? 1 : v}')
  line="round $r/$ROUNDS moderate load, p99:"
  for s in $([ "$LAT_DURATION" != 0 ] && seq 1 "$LAT_SLICES"); do
    for k in $(seq 0 $((${#live[@]} - 1))); do
      n=${live[$(( (k + s + r) % ${#live[@]} ))]}
      export HIST_OUT="$WORK/hist-$n-$r-$s"
      measure lat "${PORTS[$n]}" "${LG[*]}" "$slice" -c"$LAT_CONNS" -s "$WORK/lat.lua"
      echo "lat $n $(wrk_fields "$WORK/wrk-lat") $(cat "$WORK/busy-lat") $r $s $HIST_OUT" >>"$WORK/results"
      line+=" $n $(awk '$1=="99%" {print $2}' "$WORK/wrk-lat")"
    done
  done
  [ "$LAT_DURATION" != 0 ] && echo "$(stamp) $line" >&2
  stoppers=(); for n in "${LATN[@]}"; do stop_group "${LG[$n]}" & stoppers+=($!); done; wait "${stoppers[@]}"
  unset LG
done
if grep -qi 'error' "$WORK/log" 2>/dev/null; then echo "(proxy logs mention errors:)" >&2; grep -i 'error' "$WORK/log" | head -5 >&2; fi
{
  echo "machine: $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(uname -sr); node $("$NODE" --version) for every Node proxy, Sluice included"
  echo "versions: $(nginx -v 2>&1 | sed 's/.*: //'), haproxy $(haproxy -v 2>/dev/null | awk 'NR==1 {print $3}'), $(wrk --version 2>&1 | awk 'NR==1 {print $1, $2}'), undici $("$NODE" -p 'require(process.argv[1]+"/node_modules/undici/package.json").version' "$NODE_DIR") (floor/peers) / $("$NODE" -p 'require(process.argv[1]+"/node_modules/undici/package.json").version' "$SLUICE_DIR") (Sluice), fast-gateway $("$NODE" -p 'require(process.argv[1]+"/node_modules/fast-gateway/package.json").version' "$NODE_DIR"), fastify $("$NODE" -p 'require(process.argv[1]+"/node_modules/fastify/package.json").version' "$NODE_DIR") + @fastify/http-proxy $("$NODE" -p 'require(process.argv[1]+"/node_modules/@fastify/http-proxy/package.json").version' "$NODE_DIR"), http-proxy $("$NODE" -p 'require(process.argv[1]+"/node_modules/http-proxy/package.json").version' "$NODE_DIR")"
  echo "sluice: $SLUICE_DIR at $SLUICE_REV$([ "$SLUICE_DIRTY" != 0 ] && echo " + $SLUICE_DIRTY uncommitted change(s)"), source hash $SLUICE_HASH$([ "$SLUICE_RUN" != "$SLUICE_DIR" ] && echo ", copied at the start"); report $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "method: ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNS=$CONNS; moderate-load latency wrk -c$LAT_CONNS with ${LAT_THINK_MS} ms think time, ${LAT_DURATION}s per proxy and round in $LAT_SLICES alternating slices (${LATN[*]})$([ "$PAIRED_SLICES" != 0 ] && echo "; head-to-head $PAIRED_SLICES × ${PAIRED_SECONDS}s slices per round"); proxy on CPU 1, upstream + wrk on CPU 0; BUSY_MAX=$BUSY_MAX"
  BUSY_MAX=$BUSY_MAX CONNS=$CONNS "$NODE" "$HERE/report.mjs" "$WORK/results" "${UPRPS:-0}" "${EXTRA_NAME:-extra}" "${NAMES[@]}"
} | if [ -n "${OUT:-}" ]; then tee "$OUT"; else cat; fi

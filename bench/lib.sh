# What cost.sh, profile.sh and perf-pair.sh share (sourced): loopback ports, the upstream every Sluice is measured
# against (as run.sh's: nginx, one worker, a fixed 100-byte body) and an OTLP receiver that reads and discards.
# Needs NODE, a node binary.

# A free loopback port not handed out before in this run. Ports are all chosen before anything binds them, and this
# runs in command substitutions, so each is written down in PORTS_FILE: no two callers get the same one.
free_port() { # PORTS_FILE
  local p
  while :; do
    p=$("$NODE" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    grep -qx "$p" "$1" 2>/dev/null || { echo "$p" >>"$1"; echo "$p"; return; }
  done
}

# Writes DIR/up.conf: nginx on 127.0.0.1:PORT answering every request 200 with 100 bytes.
write_upstream_conf() { # DIR PORT
  cat >"$1/up.conf" <<C
worker_processes 1; daemon off; pid $1/up.pid; error_log $1/up.err;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$2; keepalive_requests 1000000; location / { return 200 "$(printf 'x%.0s' $(seq 1 100))"; } } }
C
}

# The node -e program of a discarding OTLP/HTTP receiver on 127.0.0.1:PORT: export costs Sluice what it would cost
# against a real collector, minus the collector.
otlp_receiver_js() { # PORT
  echo "require('http').createServer((q,s)=>{q.resume();q.on('end',()=>s.end())}).listen($1,'127.0.0.1')"
}

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nginx_bench.sh NGINX MODULE UPSTREAM [SECS] [ROUNDS]: the same 3x
# overload through three fronts of one upstream, side by side in one nginx,
# alternating, with per-round ratios:
#
#   rein       rein_admit (limit = the upstream's concurrency, queue 64;
#              target 20 ms, max_wait 30 ms for the 20 ms upstream, 50 ms
#              and 250 ms for the 200 ms one: the queue as deep as about
#              one service time)
#   plain      proxy_pass only
#   limit_req  nginx's limit_req tuned to the capacity (rate = the measured
#              capacity, burst 8 nodelay, 503 beyond)
#
# The upstream is tests/nginx/fixed_upstream (4 workers x 20 ms = 200
# requests/s nominal; its capacity is measured first). The load is wrk
# with tests/nginx/count.lua: 40 connections of first attempts and 10 of
# retries (Rein-Attempt: 2), each pausing 50 ms between requests (about
# 3x the capacity offered), plus one curl probe loop timing single
# requests. Reported per front and round: goodput (200s/s), p99 latency of
# the accepted probes, the share of retries admitted. Two kinds of client:
#
#   patient   10 s timeout, against the upstream above
#   deadline  1 s timeout (wrk's finest), against a second upstream of
#             4 workers x 200 ms (20/s; 1 s = 5x its service time), each
#             connection pausing 800 ms (about 3x offered): wrk gives up on
#             a late answer and reconnects, and the upstream's work on it
#             is wasted, as with real callers
#
# Everything binds 127.0.0.1; every run is bounded by SECS (default 5);
# ROUNDS default 3.
set -euo pipefail
NGINX=${1:?usage: nginx_bench.sh NGINX MODULE UPSTREAM [SECS] [ROUNDS]}
MOD=${2:?module .so}
UP=${3:?fixed_upstream}
SECS=${4:-5}
ROUNDS=${5:-3}
here=$(cd "$(dirname "$0")" && pwd)
LUA=$here/../tests/nginx/count.lua
command -v wrk >/dev/null || { echo "nginx_bench: wrk not installed" >&2; exit 1; }
dir=$(mktemp -d /tmp/rein-nginx-bench.XXXXXX)
upid=
cleanup() {
  [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
  [ -n "$upid" ] && kill "$upid" 2>/dev/null || true
  [ -n "${upid2:-}" ] && kill "$upid2" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$UP" --workers 4 --work-ms 20 >"$dir/up" 2>&1 &
upid=$!
for _ in $(seq 50); do grep -q '^port ' "$dir/up" && break; sleep 0.1; done
UP1=$(awk '/^port /{print $2}' "$dir/up")
"$UP" --workers 4 --work-ms 200 >"$dir/up2" 2>&1 &
upid2=$!
for _ in $(seq 50); do grep -q '^port ' "$dir/up2" && break; sleep 0.1; done
UP2=$(awk '/^port /{print $2}' "$dir/up2")
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p; s/^RESULT $2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }
r=$(wrk -t1 -c8 -d3s -s "$LUA" "http://127.0.0.1:$UP1/x" | grep '^RESULT')
cap=$(awk -v o="$(field "$r" ok)" -v s="$(field "$r" secs)" 'BEGIN {printf "%d", o / s}')
echo "upstream capacity: $cap req/s (4 workers x 20 ms, measured straight)"

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
P_REIN=$(free_port) P_PLAIN=$(free_port) P_LR=$(free_port)
S_REIN=$(free_port) S_PLAIN=$(free_port) S_LR=$(free_port)
cat >"$dir/nginx.conf" <<EOF
load_module $MOD;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  rein_zone api limit=4 queue=64 retry_queue=8 target=20ms interval=100ms max_wait=30ms;
  rein_zone slow limit=4 queue=64 retry_queue=8 target=50ms interval=500ms max_wait=250ms;
  limit_req_zone \$server_port zone=cap:1m rate=${cap}r/s;
  limit_req_zone \$server_port zone=cap2:1m rate=20r/s;
  limit_req_status 503;
  server { listen 127.0.0.1:$P_REIN;
           location / { rein_admit api; proxy_pass http://127.0.0.1:$UP1; } }
  server { listen 127.0.0.1:$P_PLAIN;
           location / { proxy_pass http://127.0.0.1:$UP1; } }
  server { listen 127.0.0.1:$P_LR;
           location / { limit_req zone=cap burst=8 nodelay;
                        proxy_pass http://127.0.0.1:$UP1; } }
  server { listen 127.0.0.1:$S_REIN;
           location / { rein_admit slow; proxy_pass http://127.0.0.1:$UP2; } }
  server { listen 127.0.0.1:$S_PLAIN;
           location / { proxy_pass http://127.0.0.1:$UP2; } }
  server { listen 127.0.0.1:$S_LR;
           location / { limit_req zone=cap2 burst=8 nodelay;
                        proxy_pass http://127.0.0.1:$UP2; } }
}
EOF
"$NGINX" -p "$dir" -c "$dir/nginx.conf"
sleep 0.5

run() { # run NAME PORT TIMEOUT_S DELAY_MS -> "goodput p99_ms retry_admitted_share"
  local b="http://127.0.0.1:$2" end=$((SECONDS + SECS)) f r t=$3 dl=$4
  : >"$dir/probes"
  (while [ $SECONDS -lt $end ]; do
     curl -s -o /dev/null --max-time "$t" -w '%{http_code} %{time_total}\n' "$b/p" >>"$dir/probes"
   done) &
  local pp=$!
  REIN_DELAY_MS=$dl wrk -t1 -c40 -d"${SECS}"s --timeout "$t"s -s "$LUA" "$b/x" | grep '^RESULT' >"$dir/f" &
  local w1=$!
  REIN_DELAY_MS=$dl REIN_ATTEMPT=2 wrk -t1 -c10 -d"${SECS}"s --timeout "$t"s -s "$LUA" "$b/x" | grep '^RESULT' >"$dir/r" &
  local w2=$!
  wait $w1 $w2 $pp
  f=$(cat "$dir/f") r=$(cat "$dir/r")
  local acc
  acc=$(awk '$1 == 200' "$dir/probes" | wc -l)
  local p99
  p99=$(awk '$1 == 200 {print $2 * 1000}' "$dir/probes" | sort -g | awk '{a[NR]=$1} END {i=int(NR*0.99+0.5); if(i<1)i=1; print a[i]}')
  awk -v a="$(field "$f" ok)" -v b="$(field "$r" ok)" -v c="$acc" -v s="$(field "$f" secs)" \
      -v rs="$(field "$r" shed)" -v p="$p99" \
      'BEGIN {printf "%.1f %.1f %.3f\n", (a + b + c) / s, p, ((b + rs) > 0 ? b / (b + rs) : 0)}'
  sleep 2 # the upstream's backlog drains between runs
}

declare -A G P
fronts=(rein plain limit_req)
for client in patient deadline; do
  case $client in
  patient) tmo=10 dl=50 ;;
  deadline) tmo=1 dl=800 ;;
  esac
  echo
  echo "clients: $client (timeout $tmo s, $dl ms between requests)"
  printf '%-6s %-10s %10s %10s %14s\n' round front goodput p99_ms retries_admit
  for round in $(seq "$ROUNDS"); do
    # Rotate the order each round so drift hits every front alike.
    for k in 0 1 2; do
      name=${fronts[$(((k + round) % 3))]}
      case $client,$name in
      patient,rein) port=$P_REIN ;; patient,plain) port=$P_PLAIN ;;
      patient,limit_req) port=$P_LR ;; deadline,rein) port=$S_REIN ;;
      deadline,plain) port=$S_PLAIN ;; deadline,limit_req) port=$S_LR ;;
      esac
      read -r g p ra <<<"$(run "$name" "$port" "$tmo" "$dl")"
      G[$name,$round]=$g P[$name,$round]=$p
      printf '%-6s %-10s %10s %10s %14s\n' "$round" "$name" "$g" "$p" "$ra"
    done
    printf '%-6s %-10s goodput rein/plain %.2f rein/limit_req %.2f; p99 plain/rein %.2f limit_req/rein %.2f\n' \
      "$round" ratios \
      "$(awk -v a="${G[rein,$round]}" -v b="${G[plain,$round]}" 'BEGIN {print (b > 0 ? a / b : "inf")}')" \
      "$(awk -v a="${G[rein,$round]}" -v b="${G[limit_req,$round]}" 'BEGIN {print (b > 0 ? a / b : "inf")}')" \
      "$(awk -v a="${P[plain,$round]}" -v b="${P[rein,$round]}" 'BEGIN {print (b > 0 ? a / b : 0)}')" \
      "$(awk -v a="${P[limit_req,$round]}" -v b="${P[rein,$round]}" 'BEGIN {print (b > 0 ? a / b : 0)}')"
  done
done

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nginx_e2e.sh NGINX MODULE UPSTREAM PART: Debian's nginx with
# ngx_http_rein_module in front of a real upstream of fixed capacity
# (tests/nginx/fixed_upstream.c), on 127.0.0.1, free ports, a temp prefix;
# asserted with independent clients (curl, wrk). PART is one of:
#
#   config    bad configurations fail `nginx -t` naming the directive, the
#             parameter, the expected value and file:line
#   signals   shed answers: 503 + Retry-After + problem+json, retries (by
#             Rein-Attempt, x-envoy-attempt-count, grpc-previous-rpc-attempts)
#             shed before first attempts with Rein-Dont-Retry, 429 +
#             RateLimit headers, queueing without blocking the worker, a
#             client gone while queued, the metrics
#   overload  3x overload (best of up to three rounds): goodput >= 90% of the upstream's measured
#             capacity, p99 of accepted requests within the configured
#             queueing bound, retries shed before first attempts, every shed
#             answer with Retry-After, and Retry-After following the drain
#             rate (the upstream slowed down: it grows); plain nginx beside it
#   reload    nginx -s reload under load (same zone kept and reconfigured,
#             resized zone replaced): counts consistent, nothing stuck
#   crash     workers SIGKILLed under load: their tickets taken back,
#             nothing stuck
#   outage    (5th argument: tests/nginx/rein_client_load) the rein libcurl
#             client, 50 calls/s, through a 3 s upstream stall: its
#             amplification (attempts per call) stays under 1.1x
#   export    (5th argument: the rein CLI) `rein export nginx` of a contract
#             setting every server.admission field: each value is its
#             directive's, nginx -t accepts the snippet, and nginx running
#             it has the zone, limit and rate limit the contract says;
#             values nginx cannot say exactly are warnings
#   demo      (5th argument: the rein CLI) `rein demo --behind-nginx`: the
#             rein round behind this nginx and module beside the direct one;
#             without nginx the round is skipped with a message
#
# Every load is bounded (wrk -d, curl --max-time); the whole part < 60 s.
set -euo pipefail
NGINX=$1 MOD=$2 UP=$3 PART=$4 CLIENT=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
LUA=$here/count.lua
dir=$(mktemp -d /tmp/rein-nginx.XXXXXX)
chmod 755 "$dir" # nginx's workers may run as another user (root's default)
pids=()

cleanup() {
  if [ -f "$dir/nginx.pid" ]; then
    local m
    m=$(cat "$dir/nginx.pid" 2>/dev/null || true)
    [ -n "$m" ] && kill -TERM "$m" 2>/dev/null || true
    sleep 0.3
    [ -n "$m" ] && kill -KILL "$m" 2>/dev/null || true
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -f "$dir/error.log" ] && tail -20 "$dir/error.log" >&2
  exit 1
}
ok() { echo "ok: $*"; }

# start_upstream VAR WORKERS WORK_MS: a fixed-capacity upstream; VAR=port
start_upstream() {
  local out=$dir/up.$1
  "$UP" --workers "$2" --work-ms "$3" >"$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    if grep -q '^port ' "$out"; then
      printf -v "$1" '%s' "$(awk '/^port /{print $2}' "$out")"
      return 0
    fi
    sleep 0.1
  done
  fail "upstream did not start: $(cat "$out")"
}

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  fail "no free port"
}

# conf FILE ZONE_PARAMS: the test configuration; ZONE_PARAMS for zone api.
conf() {
  cat >"$1" <<EOF
load_module $MOD;
worker_processes ${WORKERS:-2};
pid $dir/nginx.pid;
error_log $dir/error.log notice;
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  rein_zone api $2;
  rein_zone one limit=1 queue=0 retry_queue=0;
  rein_zone q limit=1 queue=4 retry_queue=2 target=2s interval=10s max_wait=5s;
  rein_zone rl limit=100 rate=3/1s policy=burst;
  server {
    listen 127.0.0.1:$PORT;
    listen 127.0.0.1:$PORT2 ssl http2;
    ssl_certificate $dir/tls.crt;
    ssl_certificate_key $dir/tls.key;
    location /api/ { rein_admit api; proxy_pass http://127.0.0.1:$UP1; }
    location /plain/ { proxy_pass http://127.0.0.1:$UP1; }
    location /one/ { rein_admit one; proxy_pass http://127.0.0.1:$UP2; }
    location /q/ { rein_admit q; proxy_pass http://127.0.0.1:$UP2; }
    location /rl/ { rein_admit rl; proxy_pass http://127.0.0.1:$UP1; }
    location /redir/ { rein_admit one; try_files /nonexistent @named; }
    location @named { rein_admit one; proxy_pass http://127.0.0.1:$UP1; }
    location = /metrics { rein_metrics; }
  }
}
EOF
}

start_nginx() {
  # A throwaway certificate for the HTTP/2 listener (h2 over TLS: curl
  # multiplexes there; its prior-knowledge h2c path fails parallel streams).
  [ -f "$dir/tls.crt" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
    -subj /CN=127.0.0.1 -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1 ||
    fail "openssl could not make a test certificate"
  for _ in 1 2 3 4 5; do
    PORT=$(free_port) PORT2=$(free_port)
    conf "$dir/nginx.conf" "$ZONE"
    if "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2>"$dir/start.err"; then
      for _ in $(seq 50); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/metrics" && return 0
        sleep 0.1
      done
    fi
  done
  cat "$dir/start.err" >&2
  fail "nginx did not start"
}

base() { echo "http://127.0.0.1:$PORT"; }

# metric NAME [ZONE] [REASON]: a value from /metrics
metric() {
  local sel="admit=\"${2:-api}\""
  [ -n "${3:-}" ] && sel="$sel,reason=\"$3\""
  curl -sf "$(base)/metrics" | awk -v n="$1{$sel}" '$1 == n {print $2}'
}

# field LINE NAME: NAME=value out of a wrk RESULT line
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p; s/^RESULT $2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }

wrk_run() { # wrk_run ATTEMPT CONNS SECS PATH -> RESULT line
  REIN_ATTEMPT=$1 wrk -t1 -c"$2" -d"$3"s --timeout 10s -s "$LUA" "$(base)$4" 2>&1 | grep '^RESULT' || true
}

# p QUANTILE FILE: the quantile (0..1) of the numbers in FILE
quantile() { sort -g "$2" | awk -v q="$1" '{a[NR]=$1} END {i=int(NR*q+0.5); if(i<1)i=1; if(i>NR)i=NR; print a[i]}'; }

ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }

case "$PART" in
# --------------------------------------------------------------------------
config)
  UP1=1 UP2=1 PORT=$(free_port) PORT2=$(free_port)
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1 || fail "openssl"
  check_bad() { # check_bad ZONE_PARAMS EXTRA_LOC_LINE PATTERN
    local f=$dir/bad.conf
    conf "$f" "$1"
    if [ -n "$2" ]; then sed -i "s|    location = /metrics { rein_metrics; }|    location = /metrics { rein_metrics; }\n    $2|" "$f"; fi
    if "$NGINX" -t -p "$dir" -c "$f" >"$dir/t.out" 2>&1; then
      fail "nginx -t accepted: $1 / $2"
    fi
    grep -Eq "$3" "$dir/t.out" || { cat "$dir/t.out" >&2; fail "message for [$1 $2] lacks /$3/"; }
    ok "nginx -t: $(grep emerg "$dir/t.out" | head -1 | sed 's/.*\[emerg\] //')"
  }
  conf "$dir/good.conf" "limit=4 queue=16"
  "$NGINX" -t -p "$dir" -c "$dir/good.conf" >"$dir/t.out" 2>&1 || { cat "$dir/t.out"; fail "good config refused"; }
  ok "nginx -t accepts the test configuration"
  check_bad "limit=0" "" 'rein_zone "api": invalid parameter "limit=0": expected limit=N, N in \[1, 1048576\] in .*bad.conf:13'
  check_bad "limit=4 target=10ms interval=5ms" "" 'rein_zone "api": admit.interval_ns: must be in \[target_ns'
  check_bad "limit=4 queue=8 retry_queue=9" "" 'admit.retry_queue_max: must be <= queue_max \(8\), got 9'
  check_bad "limit=4 target=fast" "" 'invalid parameter "target=fast": expected target=TIME'
  check_bad "limit=4 bogus=1" "" 'invalid parameter "bogus=1": expected one of limit=, adaptive'
  check_bad "limit=4 rate=10/500ms" "" 'invalid parameter "rate=10/500ms": expected rate=QUOTA/WINDOW'
  check_bad "limit=4 dont_retry=maybe" "" 'expected dont_retry=never, retries or overloaded'
  check_bad "limit=4" "location /x/ { rein_admit nope; }" 'rein_admit: unknown zone "nope": expected the name of a rein_zone'
  check_bad "limit=4" "location /x/ { rein_shed_status 200; }" 'rein_shed_status: invalid status "200": expected an HTTP status in \[400, 599\]'
  check_bad "limit=4" "location /x/ { rein_admit api; rein_admit api; }" '"rein_admit" directive is duplicate'
  ;;
# --------------------------------------------------------------------------
signals)
  start_upstream UP1 4 5
  start_upstream UP2 1 1500
  ZONE="limit=4 queue=16"
  start_nginx
  b=$(base)
  code=$(curl -s -o /dev/null -w '%{http_code}' "$b/api/x")
  [ "$code" = 200 ] || fail "a request through the zone: $code"
  ok "admitted: 200"

  # Zone "one": one slot, no queue; hold the slot with a slow request.
  curl -s -o /dev/null --max-time 5 "$b/one/hold" &
  pids+=($!)
  sleep 0.4
  shed() { # shed HEADER -> headers+body file
    curl -s -D "$dir/h" -o "$dir/resp" --max-time 5 ${1:+-H "$1"} "$b/one/x" || true
  }
  shed "Rein-Attempt: 2"
  grep -q '^HTTP/1.1 503' "$dir/h" || fail "a retry with the slot busy: $(head -1 "$dir/h")"
  grep -qi '^Retry-After: [0-9]' "$dir/h" || fail "no Retry-After on a shed answer"
  grep -qi '^Rein-Dont-Retry: ?1' "$dir/h" || fail "no Rein-Dont-Retry on a shed retry"
  grep -qi '^Content-Type: application/problem+json' "$dir/h" || fail "not problem+json"
  grep -q '"reason":"retry_shed"' "$dir/resp" || fail "reason: $(cat "$dir/resp")"
  grep -q '"status":503' "$dir/resp" || fail "body status: $(cat "$dir/resp")"
  ok "Rein-Attempt: 2 -> 503 retry_shed, Retry-After, Rein-Dont-Retry, problem+json"
  shed "x-envoy-attempt-count: 3"
  grep -q '"reason":"retry_shed"' "$dir/resp" || fail "x-envoy-attempt-count 3: $(cat "$dir/resp")"
  shed "grpc-previous-rpc-attempts: 1"
  grep -q '"reason":"retry_shed"' "$dir/resp" || fail "grpc-previous-rpc-attempts 1: $(cat "$dir/resp")"
  shed "grpc-previous-rpc-attempts: 0"
  grep -q '"reason":"queue_full"' "$dir/resp" || fail "grpc-previous-rpc-attempts 0 is a first attempt: $(cat "$dir/resp")"
  shed ""
  grep -q '"reason":"queue_full"' "$dir/resp" || fail "a first attempt: $(cat "$dir/resp")"
  grep -qi '^Rein-Dont-Retry' "$dir/h" && fail "Rein-Dont-Retry on a first attempt"
  grep -qi '^Retry-After: [0-9]' "$dir/h" || fail "no Retry-After on a first attempt shed"
  ok "x-envoy-attempt-count / grpc-previous-rpc-attempts read as attempts; first attempts shed as queue_full without Rein-Dont-Retry"
  wait "${pids[-1]}" 2>/dev/null || true
  # An internal redirect into another location of the same one-slot zone:
  # still one ticket (a second would find the slot taken and be shed).
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$b/redir/x")
  [ "$code" = 200 ] || fail "internal redirect within a one-slot zone: $code"
  [ "$(metric rein_admit_inflight one)" = 0 ] || fail "zone one not empty after the redirect"
  ok "internal redirect (try_files to a named location): one ticket, released"

  # Rate limit: 3 per second, then 429 with the RateLimit fields.
  got429=0
  for i in 1 2 3 4 5; do
    curl -s -D "$dir/h$i" -o /dev/null "$b/rl/x"
  done
  for i in 1 2 3 4 5; do
    if grep -q '^HTTP/1.1 429' "$dir/h$i"; then
      got429=1
      grep -qi '^Retry-After: [1-9]' "$dir/h$i" || fail "429 without Retry-After"
      grep -qi '^RateLimit-Policy: "burst";q=3;w=1' "$dir/h$i" || fail "429 without RateLimit-Policy: $(cat "$dir/h$i")"
      grep -qi '^RateLimit: "burst";r=0;t=[0-9]' "$dir/h$i" || fail "429 without RateLimit"
      grep -qi '^Rein-Dont-Retry' "$dir/h$i" && fail "Rein-Dont-Retry on a rate limit"
    fi
  done
  [ $got429 = 1 ] || fail "5 requests in a burst, quota 3/s: no 429"
  grep -qi '^RateLimit: "burst";r=2' "$dir/h1" || fail "admitted answer without RateLimit: $(cat "$dir/h1")"
  ok "rate limit: 429 + Retry-After + RateLimit-Policy + RateLimit; RateLimit on admitted answers too"

  # Zone "q": one slot, a queue: the second request waits, the worker
  # keeps serving meanwhile.
  t0=$(date +%s%N)
  curl -s -o "$dir/q1" -w '%{http_code}\n' --max-time 8 "$b/q/a" >"$dir/c1" &
  p1=$!
  sleep 0.3
  curl -s -o "$dir/q2" -w '%{http_code}\n' --max-time 8 "$b/q/b" >"$dir/c2" &
  p2=$!
  sleep 0.3
  ql=$(metric rein_admit_queue_length q)
  [ "$ql" = 1 ] || fail "queue_length while one waits: $ql"
  ok "a request waits in the queue (queue_length 1) while /metrics answers"
  # A client that leaves while queued: cancelled, queue back to 1.
  curl -s -o /dev/null --max-time 0.5 "$b/q/c" || true
  sleep 0.2
  [ "$(metric rein_admit_cancelled_total q)" -ge 1 ] || fail "a client gone while queued was not cancelled"
  ok "a client gone while queued: cancelled"
  wait $p1 $p2
  t1=$(date +%s%N)
  [ "$(cat "$dir/c1")" = 200 ] && [ "$(cat "$dir/c2")" = 200 ] || fail "queued request: $(cat "$dir/c1") $(cat "$dir/c2")"
  ms=$(((t1 - t0) / 1000000))
  [ $ms -ge 2800 ] || fail "two 1.5 s requests through one slot took $ms ms"
  ok "queued request served after the first ($ms ms for both)"
  sleep 0.2
  [ "$(metric rein_admit_inflight q)" = 0 ] && [ "$(metric rein_admit_queue_length q)" = 0 ] || fail "zone q not empty at the end"
  curl -sf "$b/metrics" >"$dir/m"
  for n in admitted_total queued_total released_total cancelled_total rejected_total inflight queue_length limit overloaded drain_rate reclaimed_total repairs_total; do
    grep -q "^rein_admit_$n{" "$dir/m" || fail "metric rein_admit_$n missing"
  done
  ok "metrics: rein_admit's names, every zone"

  # HTTP/2 (over TLS): two streams on one connection through the one-slot
  # queue of zone q: the second waits on its stream's timer and is served
  # after the first; a shed answer over h2 keeps its headers.
  h2="https://127.0.0.1:$PORT2"
  t0=$(date +%s%N)
  curl -sk --http2 --parallel \
       -o /dev/null -o /dev/null -w '%{http_version} %{http_code} %{num_connects}\n' \
       "$h2/q/h2a" "$h2/q/h2b" >"$dir/h2" || true
  t1=$(date +%s%N)
  [ "$(grep -c '^2 200 ' "$dir/h2")" = 2 ] || fail "h2 streams through the queue: $(cat "$dir/h2")"
  [ "$(awk '{n += $3} END {print n}' "$dir/h2")" = 1 ] || fail "h2 streams not on one connection: $(cat "$dir/h2")"
  ms=$(((t1 - t0) / 1000000))
  [ $ms -ge 2800 ] || fail "two 1.5 s h2 streams through one slot took $ms ms"
  [ "$(metric rein_admit_queued_total q)" -ge 2 ] || fail "no h2 stream was queued"
  ok "HTTP/2: two streams of one connection, the second queued and served ($ms ms)"
  curl -sk --http2 -o /dev/null --max-time 5 "$h2/one/hold" &
  hp=$!
  sleep 0.4
  curl -sk --http2 -D "$dir/h2h" -o "$dir/resp" -H 'Rein-Attempt: 2' "$h2/one/x" || true
  wait $hp || true
  grep -q '^HTTP/2 503' "$dir/h2h" || fail "h2 shed: $(head -1 "$dir/h2h")"
  grep -qi '^retry-after: [0-9]' "$dir/h2h" && grep -qi '^rein-dont-retry: ?1' "$dir/h2h" || fail "h2 shed headers: $(cat "$dir/h2h")"
  grep -q '"reason":"retry_shed"' "$dir/resp" || fail "h2 shed body: $(cat "$dir/resp")"
  ok "HTTP/2: shed answer 503 with Retry-After, Rein-Dont-Retry, problem+json"
  sleep 0.2
  [ "$(metric rein_admit_inflight q)" = 0 ] && [ "$(metric rein_admit_inflight one)" = 0 ] || fail "zones not empty after h2"
  ;;
# --------------------------------------------------------------------------
overload)
  WORK=20 W=4
  start_upstream UP1 $W $WORK
  start_upstream UP2 1 10
  # limit = the upstream's concurrency.
  MAXWAIT=30
  ZONE="limit=$W queue=64 retry_queue=8 target=20ms interval=100ms max_wait=${MAXWAIT}ms retry_after_min=0"
  start_nginx
  b=$(base)
  # The upstream's capacity, measured here: wrk straight at it, 2x its
  # concurrency (it queues in its backlog, never idles).
  r=$(REIN_ATTEMPT= wrk -t1 -c$((2 * W)) -d2s -s "$LUA" "http://127.0.0.1:$UP1/x" 2>&1 | grep '^RESULT')
  cap=$(awk -v o="$(field "$r" ok)" -v s="$(field "$r" secs)" 'BEGIN {printf "%.1f", o / s}')
  ok "upstream capacity measured: $cap req/s (nominal $((W * 1000 / WORK)))"
  # Unloaded latency of one request through nginx and the module.
  for i in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "$b/api/x"; done >"$dir/idle"
  idle=$(quantile 0.5 "$dir/idle")
  probe() { # probe SECS OUT: curl, one request at a time, timing each
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt "$end" ]; do
      curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}\n' "$b/${PROBE_PATH:-api}/p" >>"$2"
    done
  }
  # 3x overload: each connection pauses 50 ms between requests; 40
  # of first attempts and 10 of retries (Rein-Attempt: 2): about 600
  # requests/s offered against 200/s of capacity, however fast the sheds.
  overload() { # overload SECS PATH -> $dir/first $dir/retry $dir/probes
    : >"$dir/probes"
    probe "$1" "$dir/probes" & local pp=$!
    REIN_DELAY_MS=50 wrk_run "" 40 "$1" "$2" >"$dir/first" & local w1=$!
    REIN_DELAY_MS=50 wrk_run 2 10 "$1" "$2" >"$dir/retry" & local w2=$!
    wait $w1 $w2 $pp
  }
  overload 1 /api/x # warm-up: a drain-rate window
  # Goodput and p99 are timing claims on a shared 2-core machine, where
  # wrk, curl, nginx and the upstream compete for the CPU: a round that
  # misses is run again, up to three rounds; the test fails only when
  # every round misses (a real regression misses all three).
  bound=$(awk -v i="$idle" -v m=$MAXWAIT 'BEGIN {print i + (m + 20) / 1000}')
  round=1 why=
  while :; do
    overload 4 /api/x
    first=$(cat "$dir/first") retry=$(cat "$dir/retry")
    echo "round $round first attempts: $first"
    echo "round $round retries:        $retry"
    [ -n "$first" ] && [ -n "$retry" ] || fail "wrk gave no result"
    awk '$1 == 200 {print $2}' "$dir/probes" >"$dir/acc"
    [ "$(wc -l <"$dir/acc")" -ge 20 ] || fail "too few accepted probes: $(wc -l <"$dir/acc")"
    p99=$(quantile 0.99 "$dir/acc")
    secs=$(field "$first" secs)
    offered=$(awk -v a="$(field "$first" ok)" -v b="$(field "$first" shed)" -v c="$(field "$retry" ok)" -v d="$(field "$retry" shed)" -v e="$(wc -l <"$dir/probes")" -v s="$secs" 'BEGIN {printf "%.1f", (a + b + c + d + e) / s}')
    ge "$offered" "$(awk -v c="$cap" 'BEGIN {print 2.5 * c}')" || fail "offered $offered req/s is not ~3x capacity $cap"
    good=$(awk -v a="$(field "$first" ok)" -v b="$(field "$retry" ok)" -v c="$(wc -l <"$dir/acc")" -v s="$secs" 'BEGIN {printf "%.1f", (a + b + c) / s}')
    why=
    ge "$good" "$(awk -v c="$cap" 'BEGIN {print 0.9 * c}')" || why="goodput $good req/s < 90% of capacity $cap"
    # Queueing is bounded by max_wait (target while overloaded), plus one
    # poll tick and 19 ms for a loaded, shared machine.
    ge "$bound" "$p99" || why="${why:+$why; }p99 of accepted $p99 s > unloaded $idle s + max_wait ${MAXWAIT} ms + 20 ms"
    [ -z "$why" ] && break
    echo "round $round missed: $why"
    [ $round -lt 3 ] || fail "$why (in each of 3 rounds)"
    round=$((round + 1))
  done
  ok "goodput at $offered req/s offered: $good req/s = $(awk -v g="$good" -v c="$cap" 'BEGIN {printf "%.0f", 100 * g / c}')% of capacity (round $round)"
  ok "p99 of accepted requests $p99 s <= unloaded $idle s + max_wait $MAXWAIT ms + 20 ms"
  [ "$(field "$first" shed_without_retry_after)" = 0 ] && [ "$(field "$retry" shed_without_retry_after)" = 0 ] || fail "shed answers without Retry-After"
  ok "every shed answer carries Retry-After ($(field "$first" shed) + $(field "$retry" shed))"
  fs=$(awk -v o="$(field "$first" ok)" -v s="$(field "$first" shed)" 'BEGIN {printf "%.3f", s / (o + s)}')
  rs=$(awk -v o="$(field "$retry" ok)" -v s="$(field "$retry" shed)" 'BEGIN {printf "%.3f", s / (o + s)}')
  ge "$rs" "$(awk -v f="$fs" 'BEGIN {print f + 0.2}')" || fail "retries not shed first: shed fraction first $fs, retries $rs"
  ok "retries shed before first attempts: shed fraction $rs of retries vs $fs of first attempts"
  [ "$(metric rein_admit_rejected_total api retry_shed)" -gt 0 ] || fail "no retry_shed in the metrics"
  ra1=$(field "$first" ra_mean)

  # The drain rate falls 50x (the upstream slows to 1 s a request):
  # Retry-After, queue length / drain rate, grows.
  curl -s -X POST -o /dev/null "http://127.0.0.1:$UP1/admin/work?ms=1000"
  overload 2 /api/x
  overload 4 /api/x
  slow=$(cat "$dir/first")
  echo "slowed:         $slow"
  ra2=$(field "$slow" ra_mean)
  ge "$ra2" "$(awk -v a="$ra1" 'BEGIN {print a + 1}')" || fail "Retry-After did not follow the drain rate: $ra1 s -> $ra2 s"
  ok "Retry-After follows the drain rate: mean $ra1 s at $cap req/s, $ra2 s at 1/50 of it"
  [ "$(field "$slow" shed_without_retry_after)" = 0 ] || fail "shed answers without Retry-After"
  curl -s -X POST -o /dev/null "http://127.0.0.1:$UP1/admin/work?ms=$WORK"

  # Beside it, plain nginx under the same overload (reported; the bench
  # compares them properly).
  sleep 1.5 # the upstream's backlog of slow requests drains
  PROBE_PATH=plain overload 3 /plain/x
  awk '$1 == 200 {print $2}' "$dir/probes" >"$dir/pacc"
  echo "plain nginx:    $(cat "$dir/first")"
  ok "plain nginx p99 of accepted: $(quantile 0.99 "$dir/pacc") s vs rein $p99 s"
  ;;
# --------------------------------------------------------------------------
reload|crash)
  start_upstream UP1 4 20
  start_upstream UP2 1 10
  ZONE="limit=4 queue=32 retry_queue=4 target=5ms interval=50ms max_wait=50ms"
  start_nginx
  b=$(base)
  master=$(cat "$dir/nginx.pid")
  wrk_run "" 24 5 /api/x >"$dir/load" & wl=$!
  REIN_ATTEMPT=2 wrk -t1 -c8 -d5s -s "$LUA" "$b/api/x" >/dev/null 2>&1 & wl2=$!
  sleep 1
  a0=$(metric rein_admit_admitted_total)
  if [ "$PART" = reload ]; then
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -s reload
    sleep 1.2
    # Same size, other settings: the zone is kept and reconfigured.
    sed -i 's/target=5ms interval=50ms/target=6ms interval=60ms/' "$dir/nginx.conf"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -s reload
    sleep 1
    a1=$(metric rein_admit_admitted_total)
    [ "$a1" -ge "$a0" ] || fail "the zone's counters went back after reload: $a0 -> $a1"
    ok "reloads under load keep the zone: admitted_total $a0 -> $a1"
  else
    for w in $(pgrep -P "$master"); do
      kill -KILL "$w"
      sleep 1
    done
    ok "SIGKILLed every worker under load, one a second"
  fi
  wait $wl $wl2
  echo "load: $(cat "$dir/load")"
  # Nothing in flight, nothing queued, once the load is over (a dead
  # worker's tickets are taken back within a second).
  for _ in $(seq 40); do
    i=$(metric rein_admit_inflight) q=$(metric rein_admit_queue_length)
    [ "$i" = 0 ] && [ "$q" = 0 ] && break
    sleep 0.1
  done
  [ "$i" = 0 ] && [ "$q" = 0 ] || fail "after the load: inflight $i queue $q"
  ad=$(metric rein_admit_admitted_total) rel=$(metric rein_admit_released_total)
  [ "$ad" = "$rel" ] || fail "admitted $ad != released $rel with nothing in flight"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$b/api/x")
  [ "$code" = 200 ] || fail "after the load, a request: $code"
  [ "$(metric rein_admit_overloaded)" = 0 ] || fail "stuck overloaded"
  ok "consistent afterwards: inflight 0, queue 0, admitted = released = $ad, not overloaded, 200"
  if [ "$PART" = crash ]; then
    rc=$(metric rein_admit_reclaimed_total) rp=$(metric rein_admit_repairs_total)
    grep -q 'took back' "$dir/error.log" || [ "$rc" -gt 0 ] || [ "$rp" -gt 0 ] || fail "no ticket of the killed workers was taken back"
    ok "tickets of killed workers taken back: reclaimed_total $rc, repairs_total $rp"
  else
    # A resized zone (limit changes its size): a new zone, new limit.
    sed -i 's/rein_zone api limit=4 queue=32/rein_zone api limit=6 queue=40/' "$dir/nginx.conf"
    "$NGINX" -p "$dir" -c "$dir/nginx.conf" -s reload
    for _ in $(seq 30); do
      [ "$(metric rein_admit_limit)" = 6 ] && break
      sleep 0.1
    done
    [ "$(metric rein_admit_limit)" = 6 ] || fail "resized zone: limit $(metric rein_admit_limit)"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$b/api/x")
    [ "$code" = 200 ] || fail "after resize: $code"
    ok "a resized zone replaces the old one on reload (limit 6)"
    ! grep -q 'cannot keep the zone' "$dir/error.log" || fail "reconfigure failed"
  fi
  ;;
# --------------------------------------------------------------------------
outage)
  [ -x "$CLIENT" ] || fail "outage needs the client program as 5th argument"
  start_upstream UP1 4 20
  start_upstream UP2 1 10
  # The zone's default dont_retry (the module's: overloaded), or
  # DONT_RETRY=never|retries|overloaded set explicitly.
  ZONE="limit=4 queue=32 retry_queue=4 target=20ms interval=100ms max_wait=100ms${DONT_RETRY:+ dont_retry=$DONT_RETRY}"
  start_nginx
  b=$(base)
  # 7 s of calls; the upstream hangs from 1.5 s to 4.5 s.
  "$CLIENT" "$b/api/x" --rate 50 --threads 32 --secs 7 --from 1.5 --to 4.5 --attempt-timeout-ms "${ATTEMPT_MS:-2000}" >"$dir/client" 2>"$dir/client.err" &
  cp=$!
  sleep 1.55
  curl -s -X POST -o /dev/null "http://127.0.0.1:$UP1/admin/stall?ms=3000"
  wait $cp || fail "client: $(tail -5 "$dir/client.err")"
  cat "$dir/client"
  win=$(grep '^window' "$dir/client")
  amp=$(sed -n 's/.*amplification=\([^ ]*\).*/\1/p' <<<"$win")
  calls=$(sed -n 's/.*calls=\([^ ]*\).*/\1/p' <<<"$win")
  [ "$calls" -ge 100 ] || fail "too few calls in the outage window: $calls"
  ge 1.1 "$amp" || fail "amplification $amp >= 1.1 during the stall"
  longest=$(sed -n 's/.*longest_call_s=\([^ ]*\).*/\1/p' "$dir/client")
  ge 11 "$longest" || fail "a call took $longest s, past its 10 s deadline"
  [ "$(metric rein_admit_rejected_total api queue_timeout)" -gt 0 ] || fail "the stall shed nothing"
  ok "rein client through a 3 s stall (dont_retry=${DONT_RETRY:-default}): $calls calls, amplification $amp (< 1.1)"
  ;;
# --------------------------------------------------------------------------
export)
  REIN=$(cd "$(dirname "$CLIENT")" && pwd)/$(basename "$CLIENT")
  [ -x "$REIN" ] || fail "export needs the rein CLI as 5th argument"
  start_upstream UP1 4 20
  PORT=$(free_port)
  # A contract that sets every field of server.admission, none at its
  # default (but aimd_backoff, which nginx cannot say: the warnings below);
  # each line: the contract's field and value, and the token the snippet
  # must carry for it (the round trip).
  cat >"$dir/fields" <<EOF
zone: ledger-api|rein_zone ledger-api
limit: 8|limit=8
adaptive: true|adaptive
limit_min: 2|limit_min=2
limit_max: 32|limit_max=32
aimd_latency: 250ms|aimd_latency=250ms
queue: 16|queue=16
retry_queue: 4|retry_queue=4
target: 20ms|target=20ms
interval: 2s|interval=2s
max_wait: 30ms|max_wait=30ms
lifo: false|lifo=off
retry_after_min: 0s|retry_after_min=0s
retry_after_max: 2m|retry_after_max=2m
retry_after_spread: 0.25|retry_after_spread=0.25
rate_window: 500ms|rate_window=500ms
rate_limit: {quota: 3, window: 2s, policy: burst}|rate=3/2s policy=burst
dont_retry: retries|dont_retry=retries
shed_status: 529|rein_shed_status 529;
rate_limit_status: 430|rein_rate_limit_status 430;
ratelimit_headers: true|rein_ratelimit_headers on;
dont_retry_header: false|rein_dont_retry_header off;
attempt_header: X-Attempt|rein_attempt_header X-Attempt;
upstream: http://127.0.0.1:$UP1|proxy_pass http://127.0.0.1:$UP1;
paths: {charge: /v1/charges, refund: /v1/refunds}|location /v1/refunds {
listen: 127.0.0.1:$PORT|listen 127.0.0.1:$PORT;
EOF
  {
    printf 'service: ledger\nversion: 2024-06-01\noperations:\n'
    printf '  charge: {idempotency: key, key_ttl: 24h}\n  refund: {idempotency: natural}\n'
    printf 'server:\n  admission:\n'
    while IFS='|' read -r field _; do printf '    %s\n' "$field"; done <"$dir/fields"
  } >"$dir/ledger.yaml"
  "$REIN" check "$dir/ledger.yaml" >"$dir/check.out" 2>&1 || { cat "$dir/check.out"; fail "rein check refused the contract"; }
  "$REIN" export nginx "$dir/ledger.yaml" -o "$dir/rein.conf" 2>"$dir/export.err" || fail "rein export nginx: $(cat "$dir/export.err")"
  [ ! -s "$dir/export.err" ] || fail "warnings for a contract nginx can say exactly: $(cat "$dir/export.err")"
  cat "$dir/rein.conf"
  n=0
  while IFS='|' read -r field token; do
    grep -qF -- "$token" "$dir/rein.conf" || fail "contract '$field': no '$token' in the snippet"
    n=$((n + 1))
  done <"$dir/fields"
  grep -qF 'location /v1/charges {' "$dir/rein.conf" || fail "no location for charge"
  ok "round trip: each of the $n fields of server.admission is its directive's value"
  cat >"$dir/nginx.conf" <<EOF
load_module $MOD;
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log notice;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  include $dir/rein.conf;
}
EOF
  "$NGINX" -t -p "$dir" -c "$dir/nginx.conf" >"$dir/t.out" 2>&1 || { cat "$dir/t.out"; fail "nginx -t refused the exported snippet"; }
  ok "nginx -t accepts the exported snippet"
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2>"$dir/start.err" || fail "nginx did not start: $(cat "$dir/start.err")"
  b="http://127.0.0.1:$PORT"
  for _ in $(seq 50); do curl -sf -o /dev/null "$b/metrics" && break; sleep 0.1; done
  # What nginx runs is what the contract says: the zone's name and limit
  # (metrics), the rate limit (RateLimit-Policy), its status (430), a
  # location per operation proxied to the upstream.
  curl -sf "$b/metrics" >"$dir/m" || fail "no metrics"
  grep -q '^rein_admit_limit{admit="ledger-api"} 8$' "$dir/m" || fail "metrics: $(grep limit "$dir/m")"
  curl -s -D "$dir/h1" -o "$dir/b1" "$b/v1/charges"
  grep -q '^HTTP/1.1 200' "$dir/h1" && grep -q '^ok' "$dir/b1" || fail "/v1/charges: $(head -1 "$dir/h1")"
  grep -qi '^RateLimit-Policy: "burst";q=3;w=2' "$dir/h1" || fail "RateLimit-Policy: $(cat "$dir/h1")"
  for i in 1 2 3 4; do curl -s -D "$dir/r$i" -o /dev/null "$b/v1/refunds"; done
  grep -q '^HTTP/1.1 430' "$dir"/r? || fail "no 430 past the rate limit: $(head -qn1 "$dir"/r?)"
  ok "nginx running the snippet: zone ledger-api, limit 8, rate 3/2s policy burst, 430 past it, both operations proxied"
  # A contract nginx cannot say exactly: warnings at its file:line:col,
  # and the nearest values still pass nginx -t.
  printf 'service: w\nversion: 1.0.0\nserver:\n  admission:\n    adaptive: true\n    aimd_backoff: 0.8\n    target: 1500us\n    retry_after_spread: 0.125\n' >"$dir/w.yaml"
  "$REIN" export nginx "$dir/w.yaml" -o "$dir/w.conf" 2>"$dir/w.err" || fail "export w: $(cat "$dir/w.err")"
  for want in 'w.yaml:6:19: warning: server.admission.aimd_backoff: 0.8 cannot be expressed' \
              'w.yaml:7:13: warning: server.admission.target: 1500000 ns: nginx times are whole milliseconds: 2ms written' \
              'w.yaml:8:25: warning: server.admission.retry_after_spread: 0.125: the nginx module reads two decimals' \
              'warning: server.admission.listen: not set' \
              'warning: server.admission.upstream: not set'; do
    grep -qF "$want" "$dir/w.err" || { cat "$dir/w.err"; fail "export warnings lack: $want"; }
  done
  sed -e "s|include $dir/rein.conf;|include $dir/w.conf;|" -e "s|^pid .*|pid $dir/w.pid;|" "$dir/nginx.conf" >"$dir/w-nginx.conf"
  "$NGINX" -t -p "$dir" -c "$dir/w-nginx.conf" >"$dir/t.out" 2>&1 || { cat "$dir/t.out"; fail "nginx -t refused the warned snippet"; }
  ok "cannot-be-expressed warnings at the contract's file:line:col; the nearest values pass nginx -t"
  # docs/nginx.md's example is what the command writes today, and nginx
  # takes it.
  root=$(cd "$here/../.." && pwd)
  (cd "$root" && "$REIN" export nginx examples/contracts/ledger) >"$dir/doc.conf" 2>"$dir/doc.err" || fail "export of the ledger example: $(cat "$dir/doc.err")"
  awk '/^<!-- rein export nginx examples\/contracts\/ledger -->$/ {m=1; next} m && /^```nginx$/ {p=1; next} p && /^```$/ {exit} p' "$root/docs/nginx.md" >"$dir/doc.md.conf"
  [ -s "$dir/doc.md.conf" ] || fail "docs/nginx.md has no generated example"
  diff -u "$dir/doc.md.conf" "$dir/doc.conf" || fail "docs/nginx.md's example is not what rein export nginx writes (regenerate it)"
  sed -e "s|include $dir/rein.conf;|include $dir/doc.conf;|" -e "s|^pid .*|pid $dir/d.pid;|" "$dir/nginx.conf" >"$dir/d-nginx.conf"
  "$NGINX" -t -p "$dir" -c "$dir/d-nginx.conf" >"$dir/t.out" 2>&1 || { cat "$dir/t.out"; fail "nginx -t refused the docs example"; }
  ok "docs/nginx.md's example is the command's output, and nginx -t accepts it"
  ;;
# --------------------------------------------------------------------------
demo)
  REIN=$(cd "$(dirname "$CLIENT")" && pwd)/$(basename "$CLIENT")
  [ -x "$REIN" ] || fail "demo needs the rein CLI as 5th argument"
  # The round behind nginx: the rein client through this nginx and module
  # (REIN_NGINX, REIN_NGINX_MODULE), beside the direct rein round.
  (cd "$dir" && REIN_NGINX=$NGINX REIN_NGINX_MODULE=$MOD timeout 150 "$REIN" demo --short --no-sim --only rein \
     --behind-nginx --html "$dir/demo.html" --json "$dir/demo.json") >"$dir/demo.out" 2>"$dir/demo.err" ||
    fail "rein demo --behind-nginx: $(tail -5 "$dir/demo.err")"
  grep -q '^rein demo: nginx round' "$dir/demo.err" || fail "no nginx round: $(cat "$dir/demo.err")"
  head -8 "$dir/demo.out"
  python3 - "$dir/demo.json" <<'PY' || fail "the nginx round's figures"
import json, sys
r = json.load(open(sys.argv[1]))["rounds"]
assert set(r) == {"rein", "nginx"}, list(r)
n = r["nginx"]
assert n["calls"] > 0 and n["succeeded"] > 0, n
assert n["duplicates"] == 0, n["duplicates"]
# the rein client's policy holds behind nginx as well
assert n["amplification"] < 1.5, n["amplification"]
print("nginx round: calls %d, succeeded %d, amplification %.3f (direct %.3f)"
      % (n["calls"], n["succeeded"], n["amplification"], r["rein"]["amplification"]))
PY
  grep -q '<th>nginx</th>' "$dir/demo.html" || fail "the report has no nginx column"
  ok "rein demo --behind-nginx: the nginx round beside the rein round, in the summary, the JSON and the report"
  # Without nginx: skipped, saying why; the other rounds run.
  (cd "$dir" && REIN_NGINX=/nonexistent/nginx timeout 150 "$REIN" demo --short --no-sim --only naive \
     --behind-nginx --html "$dir/demo2.html") >"$dir/demo2.out" 2>"$dir/demo2.err" ||
    fail "rein demo without nginx: $(tail -5 "$dir/demo2.err")"
  grep -q 'rein demo: the round behind nginx is skipped: no nginx' "$dir/demo2.err" || fail "skip message: $(cat "$dir/demo2.err")"
  ok "without nginx: the round is skipped with a message, the others run"
  ;;
*)
  echo "usage: nginx_e2e.sh NGINX MODULE UPSTREAM config|signals|overload|reload|crash|outage|export|demo" >&2
  exit 2
  ;;
esac
echo "PASS nginx_e2e $PART ($(date +%T.%N))"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# services.sh: start and stop the real servers the backend tests use, on
# loopback, on free ports, in a temp directory, with nothing persisted.
#
#   eval "$(scripts/services.sh start DIR)"   # prints export lines:
#       REIN_REDIS_HOST, REIN_REDIS_PORT, REIN_PG_DSN, REIN_SERVICES_DIR
#   scripts/services.sh stop DIR
#
# PostgreSQL refuses to run as root, so as root the cluster is owned and run
# by the `postgres` user (Debian's package creates it).
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}

# Ports are drawn below Linux's ephemeral range (32768-60999 by default),
# so an outgoing connection's local port cannot take the one we picked.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((15000 + RANDOM % 17000))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "services.sh: no free port found" >&2
  return 1
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_redis() {
  local dir=$1 rport=$2
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" >&2 || return 1
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$rport" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

start_pg() {
  local dir=$1 pport=$2
  as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 30 \
    -o "-p $pport -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >&2
}

# Each server gets up to three tries on fresh ports: a port that looked free
# can be taken between the check and the bind.
start() {
  local dir=$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  local rport pport ok=0
  for _ in 1 2 3; do
    rport=$(free_port)
    if start_redis "$dir" "$rport"; then ok=1; break; fi
    echo "services.sh: redis-server failed on port $rport, retrying" >&2
    tail -n 5 "$dir/redis.log" >&2 2>/dev/null || true
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  done
  [ "$ok" = 1 ] || { echo "services.sh: redis-server did not start (see $dir/redis.log)" >&2; exit 1; }

  mkdir -p "$dir/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg"
  as_pg "$PGBIN/initdb" -D "$dir/pg" -A trust -U rein >"$dir/initdb.log" 2>&1 || {
    echo "services.sh: initdb failed (see $dir/initdb.log)" >&2
    cat "$dir/initdb.log" >&2
    exit 1
  }
  ok=0
  for _ in 1 2 3; do
    pport=$(free_port)
    if start_pg "$dir" "$pport"; then ok=1; break; fi
    echo "services.sh: postgres failed on port $pport, retrying; its log:" >&2
    tail -n 10 "$dir/pg/server.log" >&2 2>/dev/null || true
  done
  [ "$ok" = 1 ] || { echo "services.sh: postgres did not start (see $dir/pg/server.log)" >&2; exit 1; }
  cat <<ENV
export REIN_SERVICES_DIR='$dir'
export REIN_REDIS_HOST=127.0.0.1
export REIN_REDIS_PORT=$rport
export REIN_PG_DSN='host=127.0.0.1 port=$pport user=rein dbname=postgres'
ENV
}

stop() {
  local dir=$1
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  if [ -d "$dir/pg" ] && [ -f "$dir/pg/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "${2:?usage: services.sh start DIR}" ;;
  stop) stop "${2:?usage: services.sh stop DIR}" ;;
  *) echo "usage: services.sh start|stop DIR" >&2; exit 2 ;;
esac

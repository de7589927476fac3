#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# services.sh: start and stop the real servers the backend tests use, on
# loopback, on free ports, in a temp directory, with nothing persisted.
#
#   eval "$(scripts/services.sh start DIR)"   # prints export lines:
#       REIN_REDIS_HOST, REIN_REDIS_PORT, REIN_PG_DSN, REIN_SERVICES_DIR,
#       REIN_NATS_URL (nats-server with JetStream, store in DIR/nats),
#       REIN_AMQP_URL (a private rabbitmq-server; REIN_NO_RABBIT=1 skips it)
#   scripts/services.sh stop DIR
#
# A private RabbitMQ node alone (for tests that crash it; `stop DIR` stops
# it too):
#   eval "$(scripts/services.sh start-rabbit DIR)"   # REIN_AMQP_URL
#   scripts/services.sh kill-rabbit DIR      # SIGKILL its beam process
#   scripts/services.sh restart-rabbit DIR   # the same node (name, ports,
#                                            # Mnesia) again; waits until up
#   scripts/services.sh cycle-rabbit DIR     # stop_app + start_app (clean)
#
# Optional high-availability sets (also stopped by `stop DIR`; DIR may be
# the same directory as `start` used, or a new one):
#   eval "$(scripts/services.sh start-sentinel DIR)"
#       1 primary, 1 replica, 3 sentinels (quorum 2, down-after 500 ms);
#       exports REIN_SENTINELS (host:port,...), REIN_SENTINEL_MASTER,
#       REIN_SENTINEL_PRIMARY_PORT, REIN_SENTINEL_REPLICA_PORT
#   eval "$(scripts/services.sh start-cluster DIR)"
#       3 primaries, no replicas, all 16384 slots assigned; exports
#       REIN_CLUSTER_NODES (host:port,...)
# Each redis-server's command line is kept in DIR/redis-PORT.cmd, so a test
# that SIGKILLs one (its pid is in DIR/redis-PORT.pid) can start it again
# with `sh DIR/redis-PORT.cmd`.
#
# PostgreSQL refuses to run as root, so as root the cluster is owned and run
# by the `postgres` user (Debian's package creates it).
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)}

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

# A redis-server for the HA sets, daemonized, its command kept for restarts.
start_ha_redis() {
  local dir=$1 port=$2
  shift 2
  local cmd="redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no --dir '$dir' --daemonize yes --pidfile '$dir/redis-$port.pid' --logfile '$dir/redis-$port.log' --repl-diskless-sync yes --repl-diskless-sync-delay 0 $*"
  echo "$cmd" > "$dir/redis-$port.cmd"
  sh "$dir/redis-$port.cmd" >&2 || return 1
  for _ in $(seq 1 200); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

# start_ha_redis on a fresh port, up to three tries; prints the port.
start_ha_fresh() {
  local dir=$1 p
  shift
  for _ in 1 2 3; do
    p=$(free_port) || return 1
    if start_ha_redis "$dir" "$p" "$@"; then echo "$p"; return 0; fi
    echo "services.sh: redis-server failed on port $p, retrying; its log:" >&2
    tail -n 5 "$dir/redis-$p.log" >&2 2>/dev/null || true
    [ -f "$dir/redis-$p.pid" ] && kill "$(cat "$dir/redis-$p.pid")" 2>/dev/null || true
    rm -f "$dir/redis-$p.pid" "$dir/redis-$p.cmd"
  done
  return 1
}

start_sentinel() {
  local dir=$1
  mkdir -p "$dir"
  command -v redis-sentinel >/dev/null || { echo "services.sh: redis-sentinel is not installed (scripts/deps.sh)" >&2; exit 1; }
  local pport rport
  pport=$(start_ha_fresh "$dir") || { echo "services.sh: sentinel primary did not start" >&2; exit 1; }
  rport=$(start_ha_fresh "$dir" --replicaof 127.0.0.1 "$pport") || { echo "services.sh: sentinel replica did not start" >&2; exit 1; }
  local list="" sp
  for i in 1 2 3; do
    sp=$(free_port)
    cat > "$dir/sentinel-$sp.conf" <<CONF
port $sp
bind 127.0.0.1
daemonize yes
pidfile $dir/sentinel-$sp.pid
logfile $dir/sentinel-$sp.log
dir $dir
sentinel monitor rein 127.0.0.1 $pport 2
sentinel down-after-milliseconds rein 500
sentinel failover-timeout rein 2000
sentinel parallel-syncs rein 1
CONF
    redis-sentinel "$dir/sentinel-$sp.conf" >&2 || { echo "services.sh: redis-sentinel did not start" >&2; exit 1; }
    list="$list${list:+,}127.0.0.1:$sp"
  done
  # Ready when the replica is in sync and every sentinel knows the other two
  # and the replica (a failover needs both).
  local ok=0
  for _ in $(seq 1 200); do
    ok=1
    redis-cli -p "$rport" info replication 2>/dev/null | grep -q 'master_link_status:up' || ok=0
    for s in ${list//,/ }; do
      local info
      info=$(redis-cli -p "${s##*:}" sentinel master rein 2>/dev/null | tr '\n' ' ')
      echo "$info" | grep -q 'num-other-sentinels 2' || ok=0
      echo "$info" | grep -q 'num-slaves 1' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "services.sh: the sentinel set did not settle in 20 s" >&2; exit 1; }
  cat <<ENV
export REIN_SENTINELS='$list'
export REIN_SENTINEL_MASTER=rein
export REIN_SENTINEL_PRIMARY_PORT=$pport
export REIN_SENTINEL_REPLICA_PORT=$rport
ENV
}

# A cluster node's bus listens on port + 10000: both are drawn so that the
# bus port stays below the ephemeral range too, both are checked free, and a
# node that does not start is tried again on fresh ports (a port that looked
# free can be taken between the check and the bind).
cluster_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(free_port) || return 1
    if [ "$p" -le 22000 ] && ! (exec 3<>/dev/tcp/127.0.0.1/$((p + 10000))) 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "services.sh: no free cluster port pair found" >&2
  return 1
}

start_cluster() {
  local dir=$1
  mkdir -p "$dir"
  local ports=() p list="" started
  for i in 1 2 3; do
    started=0
    for _ in 1 2 3; do
      p=$(cluster_port)
      if start_ha_redis "$dir" "$p" --cluster-enabled yes \
        --cluster-config-file "'$dir/nodes-$p.conf'" --cluster-node-timeout 2000; then
        started=1
        break
      fi
      echo "services.sh: cluster node failed on port $p, retrying; its log:" >&2
      tail -n 5 "$dir/redis-$p.log" >&2 2>/dev/null || true
      [ -f "$dir/redis-$p.pid" ] && kill "$(cat "$dir/redis-$p.pid")" 2>/dev/null || true
      rm -f "$dir/redis-$p.pid" "$dir/redis-$p.cmd"
    done
    [ "$started" = 1 ] || { echo "services.sh: cluster node did not start" >&2; exit 1; }
    ports+=("127.0.0.1:$p")
    list="$list${list:+,}127.0.0.1:$p"
  done
  redis-cli --cluster create "${ports[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1 ||
    { echo "services.sh: redis-cli --cluster create failed:" >&2; tail -n 5 "$dir/cluster-create.log" >&2; exit 1; }
  local ok=0
  for _ in $(seq 1 200); do
    ok=1
    for n in "${ports[@]}"; do
      redis-cli -p "${n##*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
    done
    [ "$ok" = 1 ] && break
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "services.sh: the cluster did not reach cluster_state:ok in 20 s" >&2; exit 1; }
  echo "export REIN_CLUSTER_NODES='$list'"
}

start_pg() {
  local dir=$1 pport=$2
  as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg/server.log" -w -t 30 \
    -o "-p $pport -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >&2
}

# nats-server with JetStream, its store in DIR/nats, in the background (it
# has no daemon mode); ready when its log says so.
start_nats() {
  local dir=$1 nport=$2
  mkdir -p "$dir/nats"
  nats-server -js -a 127.0.0.1 -p "$nport" -sd "$dir/nats" \
    -l "$dir/nats.log" -P "$dir/nats.pid" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    grep -q "Server is ready" "$dir/nats.log" 2>/dev/null && return 0
    kill -0 $! 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# RabbitMQ: a private node (its own name, AMQP and distribution ports, epmd
# port, Mnesia, logs, config and Erlang cookie under DIR/rabbit), so it
# collides neither with Debian's service nor with other Erlang nodes. As
# root it runs as the `rabbitmq` user (Debian's package creates it). It takes
# several seconds to boot (see docs/exactly-once.md); REIN_NO_RABBIT=1 does
# not start it (then leave its test out: ctest -E amqp). Prints the export
# line on success.
rabbit_env() {
  local dir=$1 port=$2 dport=$3 eport=$4
  echo "HOME=$dir/rabbit/home RABBITMQ_NODENAME=rein-$port@localhost" \
    "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$port" \
    "RABBITMQ_DIST_PORT=$dport ERL_EPMD_PORT=$eport" \
    "RABBITMQ_MNESIA_BASE=$dir/rabbit/mnesia RABBITMQ_LOG_BASE=$dir/rabbit/log" \
    "RABBITMQ_CONFIG_FILE=$dir/rabbit/rabbitmq.conf" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$dir/rabbit/enabled_plugins" \
    "RABBITMQ_PID_FILE=$dir/rabbit/rabbit.pid"
}

as_rabbit() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u rabbitmq -- env "$@"; else env "$@"; fi
}

start_rabbit() {
  local dir=$1 port dport eport bin=/usr/lib/rabbitmq/bin
  [ -x "$bin/rabbitmq-server" ] ||
    { echo "services.sh: rabbitmq-server is not installed (scripts/deps.sh check installs it)" >&2; exit 1; }
  port=$(free_port) && dport=$(free_port) && eport=$(free_port) || return 1
  rm -rf "$dir/rabbit"
  mkdir -p "$dir/rabbit/home" "$dir/rabbit/mnesia" "$dir/rabbit/log"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\n' "$port" > "$dir/rabbit/rabbitmq.conf"
  echo '[].' > "$dir/rabbit/enabled_plugins"
  [ "$(id -u)" -eq 0 ] && chown -R rabbitmq "$dir/rabbit"
  rabbit_env "$dir" "$port" "$dport" "$eport" > "$dir/rabbit/env"
  launch_rabbit "$dir" && return 0
  stop_rabbit "$dir"
  return 1
}

# Boots the node described by DIR/rabbit/env (its ports, name and Mnesia
# directory) and waits until it serves AMQP; prints the export line. Used
# by start_rabbit and, on the same node after a crash, by restart-rabbit.
launch_rabbit() {
  local dir=$1 env port bin=/usr/lib/rabbitmq/bin
  env=$(cat "$dir/rabbit/env")
  port=$(echo "$env" | sed -n 's/.*RABBITMQ_NODE_PORT=\([0-9]*\).*/\1/p')
  local t0=$SECONDS
  # shellcheck disable=SC2086
  as_rabbit $env "$bin/rabbitmq-server" >> "$dir/rabbit/stdout.log" 2>&1 &
  echo $! > "$dir/rabbit/launcher.pid"
  # shellcheck disable=SC2086
  if timeout 60 bash -c "until (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do sleep 0.2; done" 2>/dev/null &&
    as_rabbit $env "$bin/rabbitmqctl" -n "rein-$port@localhost" -t 30 await_startup >/dev/null 2>&1; then
    echo "services.sh: rabbitmq-server up on 127.0.0.1:$port in $((SECONDS - t0)) s" >&2
    echo "export REIN_AMQP_URL='amqp://guest:guest@127.0.0.1:$port/'"
    return 0
  fi
  echo "services.sh: rabbitmq-server did not start in 60 s on port $port; its log:" >&2
  tail -n 20 "$dir/rabbit/stdout.log" >&2 2>/dev/null || true
  return 1
}

# rabbitmqctl stop_app + start_app: a clean restart of the broker inside
# the running node. The clean stop writes out the state RabbitMQ keeps in
# dets files (the quorum queues' Ra server names), which an unclean stop
# soon after a queue was declared loses (docs/exactly-once.md).
cycle_rabbit() {
  local dir=$1 env port bin=/usr/lib/rabbitmq/bin
  env=$(cat "$dir/rabbit/env")
  port=$(echo "$env" | sed -n 's/.*RABBITMQ_NODE_PORT=\([0-9]*\).*/\1/p')
  # shellcheck disable=SC2086
  as_rabbit $env "$bin/rabbitmqctl" -n "rein-$port@localhost" -t 30 stop_app >/dev/null 2>&1 &&
    as_rabbit $env "$bin/rabbitmqctl" -n "rein-$port@localhost" -t 30 start_app >/dev/null 2>&1 &&
    as_rabbit $env "$bin/rabbitmqctl" -n "rein-$port@localhost" -t 30 await_startup >/dev/null 2>&1
}

# SIGKILLs the node's Erlang VM (beam), as a crash would: no shutdown,
# Mnesia and the quorum queues' logs left as they are.
kill_rabbit() {
  local dir=$1 beam
  [ -f "$dir/rabbit/rabbit.pid" ] || { echo "services.sh: no rabbit.pid in $dir/rabbit" >&2; return 1; }
  beam=$(cat "$dir/rabbit/rabbit.pid")
  kill -9 "$beam" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$beam" 2>/dev/null || break
    sleep 0.05
  done
  rm -f "$dir/rabbit/rabbit.pid"
  if [ -f "$dir/rabbit/launcher.pid" ]; then
    kill "$(cat "$dir/rabbit/launcher.pid")" 2>/dev/null || true
  fi
  return 0
}

stop_rabbit() {
  local dir=$1 env port eport bin=/usr/lib/rabbitmq/bin
  [ -f "$dir/rabbit/env" ] || return 0
  env=$(cat "$dir/rabbit/env")
  port=$(echo "$env" | sed -n 's/.*RABBITMQ_NODE_PORT=\([0-9]*\).*/\1/p')
  eport=$(echo "$env" | sed -n 's/.*ERL_EPMD_PORT=\([0-9]*\).*/\1/p')
  local beam="" launcher=""
  [ -f "$dir/rabbit/rabbit.pid" ] && beam=$(cat "$dir/rabbit/rabbit.pid")
  [ -f "$dir/rabbit/launcher.pid" ] && launcher=$(cat "$dir/rabbit/launcher.pid")
  # shellcheck disable=SC2086
  timeout 30 bash -c "$(declare -f as_rabbit); as_rabbit $env $bin/rabbitmqctl -n rein-$port@localhost stop" >/dev/null 2>&1 || true
  # the node exits after `stop` returns: wait for it (bounded), then kill,
  # so nothing writes into DIR once it is removed
  if [ -n "$beam" ]; then
    for _ in $(seq 1 100); do
      kill -0 "$beam" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$beam" 2>/dev/null || true
  fi
  [ -n "$launcher" ] && kill "$launcher" 2>/dev/null || true
  # the node's private epmd (started by the node on ERL_EPMD_PORT)
  [ -n "$eport" ] && ERL_EPMD_PORT=$eport timeout 5 epmd -port "$eport" -kill >/dev/null 2>&1 || true
  rm -f "$dir/rabbit/env"
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

  [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] ||
    { echo "services.sh: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; scripts/deps.sh check installs it)" >&2; exit 1; }
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
  command -v nats-server >/dev/null ||
    { echo "services.sh: nats-server is not installed (scripts/deps.sh check installs it)" >&2; exit 1; }
  local nport
  ok=0
  for _ in 1 2 3; do
    nport=$(free_port)
    if start_nats "$dir" "$nport"; then ok=1; break; fi
    echo "services.sh: nats-server failed on port $nport, retrying; its log:" >&2
    tail -n 5 "$dir/nats.log" >&2 2>/dev/null || true
    [ -f "$dir/nats.pid" ] && kill "$(cat "$dir/nats.pid")" 2>/dev/null || true
    rm -f "$dir/nats.pid" "$dir/nats.log"
  done
  [ "$ok" = 1 ] || { echo "services.sh: nats-server did not start (see $dir/nats.log)" >&2; exit 1; }
  cat <<ENV
export REIN_SERVICES_DIR='$dir'
export REIN_REDIS_HOST=127.0.0.1
export REIN_REDIS_PORT=$rport
export REIN_PG_DSN='host=127.0.0.1 port=$pport user=rein dbname=postgres'
export REIN_NATS_URL=nats://127.0.0.1:$nport
ENV
  if [ "${REIN_NO_RABBIT:-0}" != 1 ]; then
    start_rabbit "$dir" || start_rabbit "$dir" ||
      { echo "services.sh: rabbitmq-server did not start (see $dir/rabbit/stdout.log)" >&2; exit 1; }
  fi
}

stop() {
  local dir=$1
  stop_rabbit "$dir"
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  local pids=()
  for f in "$dir"/redis-*.pid "$dir"/sentinel-*.pid "$dir"/nats.pid; do
    [ -f "$f" ] && pids+=("$(cat "$f")")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    # gone before the directory is removed (they write on exit)
    for _ in $(seq 1 40); do
      kill -0 "${pids[@]}" 2>/dev/null || break
      sleep 0.05
    done
  fi
  if [ -d "$dir/pg" ] && [ -f "$dir/pg/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start "${2:?usage: services.sh start DIR}" ;;
  stop) stop "${2:?usage: services.sh stop DIR}" ;;
  start-sentinel) start_sentinel "${2:?usage: services.sh start-sentinel DIR}" ;;
  start-cluster) start_cluster "${2:?usage: services.sh start-cluster DIR}" ;;
  start-rabbit)
    d=${2:?usage: services.sh start-rabbit DIR}
    mkdir -p "$d" && chmod 755 "$d"
    start_rabbit "$d" || start_rabbit "$d" ||
      { echo "services.sh: rabbitmq-server did not start (see $d/rabbit/stdout.log)" >&2; exit 1; } ;;
  kill-rabbit) kill_rabbit "${2:?usage: services.sh kill-rabbit DIR}" ;;
  restart-rabbit) launch_rabbit "${2:?usage: services.sh restart-rabbit DIR}" ;;
  cycle-rabbit) cycle_rabbit "${2:?usage: services.sh cycle-rabbit DIR}" ;;
  *) echo "usage: services.sh start|stop|start-sentinel|start-cluster|start-rabbit|kill-rabbit|restart-rabbit|cycle-rabbit DIR" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fresh-bookworm.sh DIR [SRC]: the "fresh Debian 12 machine" claim of the
# README, checked for real. Builds a minimal Debian 12 (debootstrap
# --variant=minbase: what a container base image holds, 88 packages, no
# compiler, no make, no git), installs only what a user needs to fetch and
# drive rein (git, make, ca-certificates), clones SRC (default: this
# checkout) and then, inside the chroot:
#   1. `make build`: must install only build dependencies (no cmocka,
#      clang, servers, browsers: the packages it added are listed in
#      DIR/packages-build.txt and checked against a deny list);
#   2. `make demo`: must run and write its reports;
#   3. a REIN_WITH_PG=OFF build with its tests on a machine with every
#      test tool but PostgreSQL (no libpq, no server installed): every
#      test passes, no binary needs libpq;
#   4. `make check`, which installs the rest (PostgreSQL among it) and runs
#      everything, as .ci/run does (skip with FRESH_NO_CHECK=1).
# Needs root (debootstrap, chroot, mounts) and the Debian mirror. Not part
# of `make check` (it takes 25-35 minutes); run it before a release and
# when the dependency lists change. Logs: DIR/*.log. While it runs the
# host's /dev, /sys and /proc are bind-mounted into DIR/root, so never
# `rm -rf DIR` while `findmnt -R DIR/root` lists anything: that deletes the
# host's device nodes. The mounts are undone (lazily) on exit, and the
# script says so when one is left.
set -euo pipefail
dir=${1:?usage: scripts/fresh-bookworm.sh DIR [SRC]}
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "fresh-bookworm.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null ||
  { echo "fresh-bookworm.sh: apt-get install debootstrap" >&2; exit 1; }
[ ! -e "$dir/root" ] || { echo "fresh-bookworm.sh: $dir/root exists; give a new DIR" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
R=$dir/root
log() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
inside() { chroot "$R" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
         LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive bash -c "$*"; }
pkgs() { chroot "$R" dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' |
           awk '$1 == "ii" { print $2 }' | sed 's/:.*//' | sort; }

log "debootstrap --variant=minbase bookworm"
debootstrap --variant=minbase bookworm "$R" http://deb.debian.org/debian \
  >"$dir/debootstrap.log" 2>&1 ||
  { tail -n 20 "$dir/debootstrap.log" >&2; exit 1; }
cleanup() {
  local m
  for m in src dev sys proc; do umount -R -l "$R/$m" 2>/dev/null || true; done
  if findmnt -R -n -o TARGET "$R" 2>/dev/null | grep -q .; then
    echo "fresh-bookworm.sh: still mounted under $R (do not remove it yet):" >&2
    findmnt -R -n -o TARGET "$R" >&2
  fi
}
trap cleanup EXIT
mkdir -p "$R/src"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount --bind "$src" "$R/src"
mount -o remount,bind,ro "$R/src"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# A TLS-intercepting proxy's CA (a build farm's, say) for npm in `make
# check`; nothing on a machine that has none.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$R/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
fi
pkgs >"$dir/packages-base.txt"
echo "base image: $(wc -l <"$dir/packages-base.txt") packages"

log "the user's prerequisites: git, make, ca-certificates"
inside 'apt-get update -qq && apt-get install -y -qq --no-install-recommends git make ca-certificates && update-ca-certificates' \
  >"$dir/prereq.log" 2>&1 || { tail -n 20 "$dir/prereq.log" >&2; exit 1; }
inside 'git config --global --add safe.directory /src && git clone -q /src /root/rein'
pkgs >"$dir/packages-prereq.txt"

log "make build"
inside 'cd /root/rein && make build' >"$dir/make-build.log" 2>&1 ||
  { tail -n 30 "$dir/make-build.log" >&2; exit 1; }
pkgs >"$dir/packages-build-all.txt"
comm -13 "$dir/packages-prereq.txt" "$dir/packages-build-all.txt" >"$dir/packages-build.txt"
echo "make build installed $(wc -l <"$dir/packages-build.txt") packages (packages-build.txt)"
bad=$(grep -E '^(libcmocka|clang|llvm|redis|postgresql|chromium|wrk|hyperfine|prometheus|python3|abigail|npm|nodejs)' \
        "$dir/packages-build.txt" || true)
[ -z "$bad" ] || { echo "fresh-bookworm.sh: make build installed test tooling: $bad" >&2; exit 1; }

log "make demo"
inside 'cd /root/rein && make demo' >"$dir/make-demo.log" 2>&1 ||
  { tail -n 30 "$dir/make-demo.log" >&2; exit 1; }
grep -E '^reports: ' "$dir/make-demo.log"

log "REIN_WITH_PG=OFF with every test tool but PostgreSQL"
# The check packages of scripts/deps.sh, without postgresql; npm for the
# SARIF validator; then no libpq may be on the machine.
check_pkgs=$(sed -n '/^CHECK_PKGS=(/,/^)/p' "$src/scripts/deps.sh" | grep -v 'CHECK_PKGS\|^)' |
               sed 's/#.*//' | tr '\n' ' ' | sed 's/\bpostgresql\b//')
inside "apt-get install -y -qq --no-install-recommends $check_pkgs npm && apt-get purge -y -qq 'postgresql*' libpq-dev libpq5" \
  >"$dir/nopg-deps.log" 2>&1 || { tail -n 20 "$dir/nopg-deps.log" >&2; exit 1; }
if pkgs | grep -E '^(libpq|postgresql)'; then
  echo "fresh-bookworm.sh: PostgreSQL is still installed" >&2; exit 1
fi
inside 'cd /root/rein/tools && npm ci --no-audit --no-fund --loglevel=error' >>"$dir/nopg-deps.log" 2>&1
cat >"$R/root/nopg.sh" <<'EOF'
set -euo pipefail
cd /root/rein
cmake -S . -B build-nopg -DREIN_WITH_PG=OFF -DREIN_TESTS=ON -DREIN_BENCH=OFF >/dev/null
cmake --build build-nopg -j"$(nproc)" >/dev/null
svc=$(mktemp -d)
port=$((20000 + RANDOM % 5000))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
  --daemonize yes --dir "$svc" --pidfile "$svc/redis.pid" >/dev/null
trap 'kill "$(cat "$svc/redis.pid")"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
REIN_REDIS_HOST=127.0.0.1 REIN_REDIS_PORT=$port \
  ctest --test-dir build-nopg --output-on-failure -j"$(nproc)" --timeout 300
pq=$(find build-nopg -type f \( -perm -u+x -o -name '*.so*' \) \
       -exec sh -c 'readelf -d "$1" 2>/dev/null | grep -q "NEEDED.*libpq" && echo "$1"' _ {} \;)
[ -z "$pq" ] || { echo "needs libpq: $pq" >&2; exit 1; }
EOF
inside 'bash /root/nopg.sh' >"$dir/nopg.log" 2>&1 || { tail -n 40 "$dir/nopg.log" >&2; exit 1; }
grep -E 'tests passed' "$dir/nopg.log"

if [ "${FRESH_NO_CHECK:-0}" = 1 ]; then
  log "done (make check skipped: FRESH_NO_CHECK=1)"
  exit 0
fi
log "make check"
inside 'cd /root/rein && make check' >"$dir/make-check.log" 2>&1 ||
  { tail -n 40 "$dir/make-check.log" >&2; exit 1; }
grep -E 'tests passed|^== ' "$dir/make-check.log"
log "done: make build, make demo, REIN_WITH_PG=OFF and make check on a fresh bookworm"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deps.sh: install the Debian 12 packages rein's build, tests and demo need,
# when they are missing. As root it runs apt-get; otherwise it prints the
# exact command to run and exits 1.
set -euo pipefail

PKGS=(
  # build
  cmake make gcc clang pkg-config libclang-rt-14-dev
  # libraries (DESIGN.md section 4)
  libyaml-dev libsqlite3-dev libpq-dev libhiredis-dev libcurl4-openssl-dev
  libmicrohttpd-dev libssl-dev libcmocka-dev
  # servers the tests start on loopback
  redis-server redis-sentinel redis-tools postgresql
  # tools the tests, demo and benchmarks use
  curl wrk hyperfine python3-simpy3 chromium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "rein: missing packages: ${missing[*]}" >&2
  echo "run as root:  $cmd" >&2
  exit 1
fi
echo "rein: installing ${missing[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >&2

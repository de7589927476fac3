#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deps.sh [build|demo|check|bench]: install the Debian 12 packages a make
# target needs, when they are missing. `build` (the default) is what a
# library user pays: the compiler and the libraries' -dev packages. `demo`
# adds nothing today (the demo runs on the build's own programs). `check`
# and `bench` add the test tooling: cmocka, clang with its sanitizer
# runtimes, the servers the backend tests start on loopback, and the tools
# the tests and benchmarks drive; `check` also installs the npm validators
# of tools/package.json (Debian has no SARIF validator, and no Envoy: its
# v3 protos come with @grpc/grpc-js-xds, read by @bufbuild/protobuf; nor
# Istio: @kubernetes-models/istio has its VirtualService models; nor
# Gateway API: @kubernetes-models/gateway-api has its HTTPRoute and
# XBackendTrafficPolicy models) into
# tools/node_modules. As root it runs apt-get; otherwise it prints the exact
# command to run and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-build}

BUILD_PKGS=(
  cmake make gcc pkg-config
  # libraries (DESIGN.md section 4)
  libyaml-dev libsqlite3-dev libpq-dev libhiredis-dev libcurl4-openssl-dev
  libmicrohttpd-dev libssl-dev libjansson-dev
  # the NATS JetStream broker adapter (REIN_WITH_NATS)
  libnats-dev
  # the RabbitMQ broker adapter (REIN_WITH_AMQP)
  librabbitmq-dev
)
CHECK_PKGS=(
  # unit tests, sanitizer and fuzz builds
  libcmocka-dev clang libclang-rt-14-dev
  # servers the tests start on loopback (nginx: tests/nginx.cmake)
  redis-server redis-sentinel redis-tools postgresql nginx
  # JetStream for the broker adapter's tests (scripts/services.sh)
  nats-server
  # the optional nginx module (nginx/, REIN_WITH_NGINX): nginx's configure
  # tree and what it configures against; here rather than in the build
  # list because nginx-dev pulls in every -dev package Debian's nginx was
  # built with (a library user who wants the module installs it)
  nginx-dev libpcre2-dev zlib1g-dev
  # tools the tests and benchmarks use
  curl wrk openssl hyperfine python3-simpy3 python3-jsonschema python3-yaml chromium
  # bench/peers/decision_peers.sh (make bench: a peer retry library)
  python3-tenacity
  # promtool (metrics_promtool test)
  prometheus
  # the tool's man pages and completion (cli_tool, test_install)
  man-db groff-base zsh bsdutils
  # a real gRPC runtime for rein export grpc (test_interop_grpc_runtime)
  python3-grpcio
  # abidiff/abidw (abi_check, docs/abi.md)
  abigail-tools
  # the RabbitMQ adapter's backend tests (services.sh starts a private node)
  rabbitmq-server
)

case "$mode" in
  build | demo) PKGS=("${BUILD_PKGS[@]}") ;;
  check | bench) PKGS=("${BUILD_PKGS[@]}" "${CHECK_PKGS[@]}") ;;
  *) echo "usage: scripts/deps.sh [build|demo|check|bench]" >&2; exit 2 ;;
esac
# npm for the test-time validators, from Debian when the machine has none.
if [ "$mode" = check ] && ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi

npm_tools() {
  [ "$mode" = check ] || return 0
  local mt=tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
  if [ ! -e "$mt" ] || [ ! -e tools/node_modules/@grpc/grpc-js-xds/deps ] ||
     [ ! -e tools/node_modules/@bufbuild/protobuf ] ||
     [ ! -e tools/node_modules/yaml ] ||
     [ ! -e tools/node_modules/@kubernetes-models/istio ] ||
     [ ! -e tools/node_modules/@kubernetes-models/gateway-api ]; then
    echo "rein: installing test-time validators (tools/package-lock.json)" >&2
    (cd tools && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
  # npm does not run the package's install script (it only sets this bit).
  chmod u+x "$mt"
}

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then npm_tools; exit 0; fi

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
npm_tools
# Debian's nginx package enables and starts a web server on port 80 of
# every interface. The tests start their own nginx on loopback and need no
# system service, so one this script just installed is stopped and
# disabled again (a machine that had nginx before is left alone).
if [[ " ${missing[*]} " == *" nginx "* ]] && [ -d /run/systemd/system ] &&
   command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now nginx.service >/dev/null 2>&1 || true
  echo "rein: stopped and disabled the nginx.service the nginx package started" \
       "(rein's tests run their own nginx on 127.0.0.1; 'systemctl enable --now nginx' undoes this)" >&2
fi

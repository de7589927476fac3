#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# configure.sh NGX_TREE MODULE_DIR: run nginx's ./configure in a copy of
# Debian's nginx-dev tree (/usr/share/nginx/src) with the flags Debian's
# nginx was built with (its conf_flags file: --with-compat and the paths),
# so the module's binary signature matches /usr/sbin/nginx and load_module
# accepts it. REIN_NGX_INCS / REIN_NGX_LIBS (nginx/config) come from the
# environment.
set -euo pipefail
tree=$1 mod=$2
cd "$tree"
NGX_CONF_FLAGS=()
if [ -f ./conf_flags ]; then
  # shellcheck disable=SC1091
  . ./conf_flags
else
  NGX_CONF_FLAGS=(--with-compat)
fi
./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$mod" >configure.log 2>&1 || {
  tail -30 configure.log >&2
  echo "nginx/configure.sh: nginx's configure failed (full log: $tree/configure.log)" >&2
  exit 1
}

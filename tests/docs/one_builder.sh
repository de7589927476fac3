#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# one_builder.sh: a policy's budget, breaker and throttle are assembled in
# one place, rein_policy_spec_build (src/core/model.c; issue 13). Any other
# call of rein_budget_new, rein_breaker_new or rein_throttle_new in the
# libraries, the CLI, the nginx module or the examples fails this test,
# except these, which build one object of their own from a config and no
# policy:
#   src/fleet/fleet.c        the fleet's shared budget and breaker and
#                            their local fallbacks (rein/fleet.h)
#   src/curl/endpoints.c     one breaker per endpoint, from the config the
#                            user or the contract's breaker block gave
#   examples/retry-basic/    the primitives by hand, as the example shows
# Usage: one_builder.sh SOURCE_DIR
set -eu
src=${1:?usage: one_builder.sh SOURCE_DIR}
cd "$src"
hits=$(grep -rnE 'rein_(budget|breaker|throttle)_new *\(' \
         --include='*.c' src cli nginx examples |
       grep -vE '^src/core/(budget|breaker|throttle|model)\.c:' |
       grep -vE '^(src/fleet/fleet\.c|src/curl/endpoints\.c|examples/retry-basic/[^:]*):' || true)
if [ -n "$hits" ]; then
  echo "budget/breaker/throttle built outside rein_policy_spec_build:"
  echo "$hits"
  echo "build a policy's objects with rein_policy_spec_build (rein/model.h)"
  exit 1
fi
n=$(grep -rcE 'rein_(budget|breaker|throttle)_new *\(' src/core/model.c)
[ "$n" -ge 3 ] || { echo "src/core/model.c no longer builds all three ($n)"; exit 1; }
echo "one builder: src/core/model.c ($n calls); exceptions: fleet, endpoints, retry-basic"

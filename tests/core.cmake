# SPDX-License-Identifier: Apache-2.0
# Core unit tests: one executable per module.
foreach(m errors rng backoff budget breaker throttle metrics retry hedge classify
          retention)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${m}.c)
    rein_add_test(NAME test_${m} SOURCES unit/test_${m}.c LABELS unit)
  endif()
endforeach()
rein_add_test(NAME test_concurrency SOURCES unit/test_concurrency.c
              LABELS unit concurrency)
# The retry-only breaker and the policy's events (issue 18); both run two
# threads on one breaker / policy, so they are in the TSan step too.
rein_add_test(NAME test_retry_gate SOURCES unit/test_retry_gate.c
              LABELS unit concurrency)
rein_add_test(NAME test_retry_events SOURCES unit/test_retry_events.c
              LABELS unit concurrency)
# What a user installs is the plain build, not a sanitizer one.
if(NOT REIN_SANITIZE AND NOT REIN_TSAN)
  get_property(_comps GLOBAL PROPERTY REIN_COMPONENTS)
  list(LENGTH _comps _ncomps)
  add_test(NAME test_install
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_install.sh
                   ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} ${_ncomps})
  set_tests_properties(test_install PROPERTIES LABELS e2e TIMEOUT 120)
  # The ABI of every shared library against the baseline of its SONAME
  # (abi/, docs/abi.md), and a proof that abidiff sees a changed struct.
  if(REIN_SHARED_LIBS)
    add_test(NAME abi_selftest
             COMMAND ${PROJECT_SOURCE_DIR}/scripts/abi.sh selftest)
    add_test(NAME abi_check
             COMMAND ${PROJECT_SOURCE_DIR}/scripts/abi.sh check ${PROJECT_BINARY_DIR})
    set_tests_properties(abi_selftest abi_check PROPERTIES LABELS unit
                         TIMEOUT 300)
  endif()
endif()

# The scenario that mirrors `rein demo` stays loadable and keeps its shape:
# the naive policy amplifies, the rein policy does not.
if(TARGET rein_sim)
  add_test(NAME scenario_demo
    COMMAND rein_cli simulate ${PROJECT_SOURCE_DIR}/examples/scenarios/demo.yaml
            --compare --json)
  set_tests_properties(scenario_demo PROPERTIES LABELS e2e TIMEOUT 120
    PASS_REGULAR_EXPRESSION "\"naive\".*\"amplification\": ?[2-9]\\..*\"rein\".*\"amplification\": ?0\\.")
endif()

# The metrics page passes Prometheus's own linter (promtool, Debian package
# prometheus), with each family in one group; the deprecated split form,
# which scatters families, must fail that check.
add_executable(metrics_page unit/metrics_page.c)
target_link_libraries(metrics_page PRIVATE rein_static)
find_program(REIN_PROMTOOL promtool)
if(REIN_PROMTOOL)
  add_test(NAME metrics_promtool
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/unit/prom_families.sh
            $<TARGET_FILE:metrics_page> ${REIN_PROMTOOL})
  set_tests_properties(metrics_promtool PROPERTIES LABELS unit TIMEOUT 60)
else()
  message(WARNING "promtool not found (Debian package prometheus): metrics_promtool test not registered; scripts/deps.sh installs it for make check")
endif()

# SPDX-License-Identifier: Apache-2.0
# Admission control (src/server): unit tests with explicit time, and the
# concurrency test (also run under ThreadSanitizer via the label).
if(TARGET rein_admit)
  rein_add_test(NAME test_admit SOURCES unit/test_admit.c
                LIBS rein_admit LABELS unit TIMEOUT 60)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_concurrency.c)
    rein_add_test(NAME test_admit_concurrency
                  SOURCES unit/test_admit_concurrency.c
                  LIBS rein_admit LABELS unit concurrency TIMEOUT 120)
  endif()
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_random.c)
    rein_add_test(NAME test_admit_random SOURCES unit/test_admit_random.c
                  LIBS rein_admit LABELS unit TIMEOUT 60)
  endif()
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_storm.c)
    rein_add_test(NAME test_admit_storm SOURCES unit/test_admit_storm.c
                  LIBS rein_admit LABELS unit TIMEOUT 60)
  endif()
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_signal.c
     AND EXISTS ${PROJECT_SOURCE_DIR}/src/core/signal.c)
    rein_add_test(NAME test_admit_signal SOURCES unit/test_admit_signal.c
                  LIBS rein_admit LABELS unit TIMEOUT 60)
  endif()
endif()

# End to end: examples/ledger under 3x overload, driven open-loop with
# libcurl. Registered only when the ledger admits through rein_admit.
set(ADMIT_LEDGER_USES_ADMIT OFF)
if(EXISTS ${PROJECT_SOURCE_DIR}/examples/ledger/ledger.c)
  file(STRINGS ${PROJECT_SOURCE_DIR}/examples/ledger/ledger.c
       ADMIT_LEDGER_HITS REGEX "rein_admit_acquire")
  if(ADMIT_LEDGER_HITS)
    set(ADMIT_LEDGER_USES_ADMIT ON)
  endif()
endif()
if(TARGET ledger AND TARGET rein_admit AND ADMIT_LEDGER_USES_ADMIT)
  pkg_check_modules(ADMIT_T_CURL IMPORTED_TARGET libcurl)
  if(ADMIT_T_CURL_FOUND)
    rein_add_test(NAME test_admit_ledger
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_admit_ledger.c
              ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
      LIBS PkgConfig::ADMIT_T_CURL ledger_auth
      ARGS $<TARGET_FILE:ledger>
      LABELS e2e TIMEOUT 120)
  endif()
endif()

# libFuzzer target: admit.c is compiled into the fuzzer (not taken from
# rein_admit) so libFuzzer sees its coverage; the core comes from
# rein_static.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_admit.c)
  rein_add_fuzzer(NAME fuzz_admit
    SOURCES fuzz/fuzz_admit.c ${PROJECT_SOURCE_DIR}/src/server/admit.c
    LIBS rein_static Threads::Threads
    ARGS -max_len=512)
endif()

# One rein_admit shared by forked processes (rein_admit_new_shared), the
# nginx module's zone: same decisions as a private one, dead owners taken
# back, a holder killed inside the lock repaired. `concurrency`: also under
# ThreadSanitizer in scripts/check.sh.
if(TARGET rein_admit AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_shared.c)
  rein_add_test(NAME test_admit_shared SOURCES unit/test_admit_shared.c
                LIBS rein_admit LABELS unit concurrency TIMEOUT 120)
endif()

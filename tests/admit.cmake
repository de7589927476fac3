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
# rein_static. New inputs go to a scratch corpus in the build tree; the seed
# corpus in the source tree is only read.
if(REIN_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang"
   AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_admit.c)
  add_executable(fuzz_admit fuzz/fuzz_admit.c
                 ${PROJECT_SOURCE_DIR}/src/server/admit.c)
  target_link_libraries(fuzz_admit PRIVATE rein_static Threads::Threads)
  target_compile_options(fuzz_admit PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_admit PRIVATE -fsanitize=fuzzer,address,undefined)
  set(REIN_FUZZ_ADMIT_WORK ${CMAKE_CURRENT_BINARY_DIR}/fuzz_admit_corpus)
  file(MAKE_DIRECTORY ${REIN_FUZZ_ADMIT_WORK})
  add_test(NAME fuzz_admit
           COMMAND fuzz_admit -max_total_time=10 -max_len=512
                   -print_final_stats=1 ${REIN_FUZZ_ADMIT_WORK}
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/admit)
  set_tests_properties(fuzz_admit PROPERTIES LABELS fuzz TIMEOUT 120)
endif()

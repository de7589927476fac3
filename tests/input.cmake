# SPDX-License-Identifier: Apache-2.0
# Hostile input (rein/input.h, issue 15): the escaper, the YAML depth
# pre-scan, sizes and the FIFO-safe reader (unit), then `rein check` and
# `rein simulate` on symlink loops, deep nesting, FIFOs, terminal escapes
# and a scenario whose memory grows without end (e2e, through the binary).
if(TARGET rein_contract AND TARGET rein_sim)
  # Under a sanitizer (ASan's quarantine, TSan's shadow memory: 763 MB
  # RSS for a 256 MiB budget under TSan) the RSS bound of the memory-budget
  # case is the sanitizer's, not the release build's.
  if(REIN_SANITIZE OR REIN_TSAN)
    set(_input_env REIN_TEST_ASAN=1)
  endif()
  rein_add_test(NAME test_input SOURCES unit/test_input.c
                LIBS rein_contract LABELS unit e2e TIMEOUT 300 ENV ${_input_env}
                ARGS $<TARGET_FILE:rein_cli>)
endif()

# libFuzzer target for the small grammars and filters above (tests/fuzz/
# fuzz_input.c): durations, sizes, retryable lists, the depth pre-scan, the
# escaper and the UTF-8 scrubber, each against its header's contract.
rein_add_fuzzer(NAME fuzz_input
  SOURCES fuzz/fuzz_input.c ${PROJECT_SOURCE_DIR}/src/core/input.c
          ${PROJECT_SOURCE_DIR}/src/core/classify.c
  INCLUDES ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include
           ${PROJECT_SOURCE_DIR}/src
  LIBS rein_static
  ARGS -max_len=1024)

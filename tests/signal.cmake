# SPDX-License-Identifier: Apache-2.0
# signal: the server-signal parsers (Retry-After, grpc-retry-pushback-ms,
# RateLimit, Rein-Dont-Retry) and their accumulation into a delay floor.
if(EXISTS ${PROJECT_SOURCE_DIR}/src/core/signal.c)
  rein_add_test(NAME test_signal SOURCES unit/test_signal.c LABELS unit
                TIMEOUT 60)
endif()

# libFuzzer target: signal.c is compiled into the fuzzer itself (not taken
# from rein_static) so libFuzzer sees its coverage. It needs nothing else
# from the core. New inputs go to a scratch corpus in the build tree; the
# seed corpus in the source tree is only read.
if(REIN_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang"
   AND EXISTS ${PROJECT_SOURCE_DIR}/src/core/signal.c)
  add_executable(fuzz_signal fuzz/fuzz_signal.c
                 ${PROJECT_SOURCE_DIR}/src/core/signal.c)
  target_include_directories(fuzz_signal PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include
    ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(fuzz_signal PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_signal PRIVATE -fsanitize=fuzzer,address,undefined)
  set(REIN_FUZZ_SIGNAL_WORK ${CMAKE_CURRENT_BINARY_DIR}/fuzz_signal_corpus)
  file(MAKE_DIRECTORY ${REIN_FUZZ_SIGNAL_WORK})
  add_test(NAME fuzz_signal
           COMMAND fuzz_signal -max_total_time=10 -max_len=256
                   -print_final_stats=1 ${REIN_FUZZ_SIGNAL_WORK}
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/signal)
  set_tests_properties(fuzz_signal PROPERTIES LABELS fuzz TIMEOUT 120)
endif()

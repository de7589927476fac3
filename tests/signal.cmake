# SPDX-License-Identifier: Apache-2.0
# signal: the server-signal parsers (Retry-After, grpc-retry-pushback-ms,
# RateLimit, Rein-Dont-Retry) and their accumulation into a delay floor.
if(EXISTS ${PROJECT_SOURCE_DIR}/src/core/signal.c)
  rein_add_test(NAME test_signal SOURCES unit/test_signal.c LABELS unit
                TIMEOUT 60)
endif()

# libFuzzer target: signal.c is compiled into the fuzzer itself (not taken
# from rein_static) so libFuzzer sees its coverage. It needs nothing else
# from the core.
if(EXISTS ${PROJECT_SOURCE_DIR}/src/core/signal.c)
  rein_add_fuzzer(NAME fuzz_signal
    SOURCES fuzz/fuzz_signal.c ${PROJECT_SOURCE_DIR}/src/core/signal.c
    INCLUDES ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include
             ${PROJECT_SOURCE_DIR}/src
    ARGS -max_len=256)
endif()

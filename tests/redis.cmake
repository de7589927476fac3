# SPDX-License-Identifier: Apache-2.0
# The bounded Redis connection layer (src/redis) as its three users see it:
# a hostile fake server (tests/support/hostile_redis.c, a thread in the
# test) against the idempotency store, the fleet and the Streams broker;
# and the high-availability tests on Sentinel and Cluster sets that the
# tests start themselves (redis-server, redis-sentinel on loopback).
if(TARGET rein_redis_obj)
  pkg_check_modules(RT_HIREDIS REQUIRED IMPORTED_TARGET hiredis)
endif()
if(TARGET rein_idem_redis AND TARGET rein_fleet AND TARGET rein_broker_redis)
  rein_add_test(NAME test_redis_hostile
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_redis_hostile.c
    LIBS rein_idem_redis rein_fleet rein_broker_redis LABELS unit backend
    TIMEOUT 120)
  set_tests_properties(test_redis_hostile PROPERTIES RUN_SERIAL TRUE)
  # Sentinel and Cluster sets come from scripts/services.sh start-sentinel /
  # start-cluster, run by the test in a temp dir of its own. The cluster
  # test also runs the idempotency conformance suite on its cluster.
  foreach(t sentinel cluster)
    set(_args "")
    if(t STREQUAL "cluster")
      if(NOT TARGET test_idem_memory)
        continue()
      endif()
      set(_args ARGS $<TARGET_FILE:test_idem_memory>)
    endif()
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_redis_${t}.c)
      rein_add_test(NAME test_redis_${t}
        SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_redis_${t}.c
                ${CMAKE_CURRENT_SOURCE_DIR}/backends/ha_redis.c
        LIBS rein_idem_redis rein_fleet PkgConfig::RT_HIREDIS
        LABELS backend redis-ha TIMEOUT 180 ${_args})
      target_compile_definitions(test_redis_${t} PRIVATE
        REIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
      target_include_directories(test_redis_${t} PRIVATE
        ${CMAKE_CURRENT_SOURCE_DIR}/backends)
      set_tests_properties(test_redis_${t} PROPERTIES RUN_SERIAL TRUE)
    endif()
  endforeach()
endif()

# libFuzzer target for rein's decoding of Redis replies: the connection
# layer and the three decoders are compiled into the fuzzer (so libFuzzer
# sees their coverage); the rest comes from the libraries. New inputs go to
# a scratch corpus in the build tree; the seed corpus is only read.
if(REIN_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang"
   AND TARGET rein_idem AND TARGET rein_fleet AND TARGET rein_redis_obj)
  add_executable(fuzz_redis_reply fuzz/fuzz_redis_reply.c
    ${PROJECT_SOURCE_DIR}/src/redis/conn.c
    ${PROJECT_SOURCE_DIR}/src/idem/redis.c
    ${PROJECT_SOURCE_DIR}/src/inbox/broker_redis.c
    ${PROJECT_SOURCE_DIR}/src/fleet/fleet.c
    ${PROJECT_SOURCE_DIR}/src/fleet/scripts.c)
  target_include_directories(fuzz_redis_reply PRIVATE
    ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/src/redis)
  target_link_libraries(fuzz_redis_reply PRIVATE rein_idem
    PkgConfig::RT_HIREDIS Threads::Threads)
  target_compile_options(fuzz_redis_reply PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_redis_reply PRIVATE
    -fsanitize=fuzzer,address,undefined)
  set(REIN_FUZZ_REDIS_WORK ${CMAKE_CURRENT_BINARY_DIR}/fuzz_redis_reply_corpus)
  file(MAKE_DIRECTORY ${REIN_FUZZ_REDIS_WORK})
  add_test(NAME fuzz_redis_reply
           COMMAND fuzz_redis_reply -max_total_time=10 -max_len=4096
                   -print_final_stats=1 ${REIN_FUZZ_REDIS_WORK}
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/redis_reply)
  set_tests_properties(fuzz_redis_reply PROPERTIES LABELS fuzz TIMEOUT 120)
endif()

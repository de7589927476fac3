# SPDX-License-Identifier: Apache-2.0
# The bounded Redis connection layer (src/redis) as its three users see it:
# a hostile fake server (tests/support/hostile_redis.c, a thread in the
# test) against the idempotency store, the fleet and the Streams broker;
# and the high-availability tests on Sentinel and Cluster sets that the
# tests start themselves (redis-server, redis-sentinel on loopback).
if(TARGET rein_idem_redis AND TARGET rein_fleet AND TARGET rein_inbox)
  rein_add_test(NAME test_redis_hostile
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_redis_hostile.c
    LIBS rein_idem_redis rein_fleet rein_inbox LABELS unit backend
    TIMEOUT 120)
  set_tests_properties(test_redis_hostile PROPERTIES RUN_SERIAL TRUE)
endif()

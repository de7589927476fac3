# SPDX-License-Identifier: Apache-2.0
# Fleet (Redis-coordinated budget and breaker) tests. The unit test needs no
# server; the backend tests need REIN_REDIS_HOST/PORT (scripts/services.sh)
# and fail without them; test_fleet_failover also starts, kills and restarts
# its own redis-server on a free loopback port.
if(TARGET rein_fleet)
  rein_add_test(NAME test_fleet SOURCES unit/test_fleet.c
                LIBS rein_fleet LABELS unit TIMEOUT 60)
  function(rein_fleet_backend_test n timeout)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_fleet_${n}.c)
      rein_add_test(NAME test_fleet_${n}
                    SOURCES backends/test_fleet_${n}.c
                            backends/test_fleet_support.c
                    LIBS rein_fleet LABELS ${ARGN} TIMEOUT ${timeout})
    endif()
  endfunction()
  rein_fleet_backend_test(redis 120 backend concurrency)
  rein_fleet_backend_test(breaker 120 backend concurrency)
  rein_fleet_backend_test(failover 120 backend concurrency)
  rein_fleet_backend_test(load 180 backend)
  # Timing and load: never next to another test (ctest -j).
  foreach(t test_fleet_breaker test_fleet_failover test_fleet_load)
    if(TEST ${t})
      set_tests_properties(${t} PROPERTIES RUN_SERIAL TRUE)
    endif()
  endforeach()
endif()

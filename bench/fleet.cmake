# SPDX-License-Identifier: Apache-2.0
# Fleet: ns per decision with the fleet budget and breaker against the local
# ones, and Redis commands per 1,000 decisions (see docs/bench-fleet.md).
if(TARGET rein_fleet)
  add_executable(bench_fleet ${CMAKE_CURRENT_SOURCE_DIR}/bench_fleet.c)
  target_link_libraries(bench_fleet PRIVATE rein_fleet)
  set_target_properties(bench_fleet PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

# SPDX-License-Identifier: Apache-2.0
# Simulator benchmark: events/s on a large scenario, and the time per run
# of the small model that bench/peers/simpy_mmc_retry.py runs in SimPy 3.
if(TARGET rein_sim)
  add_executable(bench_sim ${CMAKE_CURRENT_SOURCE_DIR}/bench_sim.c)
  target_link_libraries(bench_sim PRIVATE rein_sim)
  set_target_properties(bench_sim PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()

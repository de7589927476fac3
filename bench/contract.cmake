# SPDX-License-Identifier: Apache-2.0
# Contracts: `rein check` (load + all rules) on a generated graph of 1,000
# services and 10,000 calls; see docs/bench-contract.md.
if(TARGET rein_contract)
  add_executable(bench_contract ${CMAKE_CURRENT_SOURCE_DIR}/bench_contract.c)
  target_link_libraries(bench_contract PRIVATE rein_contract)
  set_target_properties(bench_contract PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

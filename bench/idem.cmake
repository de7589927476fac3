# SPDX-License-Identifier: Apache-2.0
# Idempotency store: begin+complete per second per backend, next to the
# hand-written equivalent on the same server (see docs/bench-idem.md).
if(TARGET rein_idem_redis AND TARGET rein_idem_pg AND TARGET rein_idem_sqlite)
  pkg_check_modules(IDEM_B_SQLITE REQUIRED IMPORTED_TARGET sqlite3)
  pkg_check_modules(IDEM_B_PQ REQUIRED IMPORTED_TARGET libpq)
  pkg_check_modules(IDEM_B_HIREDIS REQUIRED IMPORTED_TARGET hiredis)
  add_executable(bench_idem ${CMAKE_CURRENT_SOURCE_DIR}/bench_idem.c)
  target_link_libraries(bench_idem PRIVATE rein_idem_sqlite rein_idem_pg
    rein_idem_redis PkgConfig::IDEM_B_SQLITE PkgConfig::IDEM_B_PQ
    PkgConfig::IDEM_B_HIREDIS)
  set_target_properties(bench_idem PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

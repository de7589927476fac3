# Tests of the idempotency HTTP helper (unit) and of examples/ledger
# (end to end: HTTP behaviour, principals, SIGKILL crash loop).
if(TARGET rein_idem_http AND TARGET rein_idem_sqlite)
  pkg_check_modules(IDEM_HTTP_T_SQLITE REQUIRED IMPORTED_TARGET sqlite3)
  rein_add_test(NAME test_idem_http
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_idem_http.c
    LIBS rein_idem_http rein_idem_sqlite PkgConfig::IDEM_HTTP_T_SQLITE
    LABELS unit TIMEOUT 60)
endif()

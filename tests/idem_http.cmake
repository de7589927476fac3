# Tests of the idempotency HTTP helper (unit) and of examples/ledger
# (end to end: HTTP behaviour, principals, SIGKILL crash loop).
if(TARGET rein_idem_http AND TARGET rein_idem_sqlite)
  pkg_check_modules(IDEM_HTTP_T_SQLITE REQUIRED IMPORTED_TARGET sqlite3)
  rein_add_test(NAME test_idem_http
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_idem_http.c
    LIBS rein_idem_http rein_idem_sqlite PkgConfig::IDEM_HTTP_T_SQLITE
    LABELS unit concurrency TIMEOUT 60)
endif()

if(TARGET ledger)
  pkg_check_modules(IDEM_HTTP_T_CURL REQUIRED IMPORTED_TARGET libcurl)
  # SIGKILL loop: 1,000 charges, >= 24 kills, SQLite store on the ledger's
  # file (the default: charge and stored response in one transaction).
  rein_add_test(NAME test_ledger_crash
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_crash.c
    LIBS PkgConfig::IDEM_HTTP_T_CURL PkgConfig::IDEM_HTTP_T_SQLITE
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e TIMEOUT 120)
  # The same with the memory store, which forgets every key on a crash: the
  # ledger's UNIQUE (principal, key) alone must keep charges exactly-once.
  add_test(NAME test_ledger_crash_memstore
    COMMAND test_ledger_crash $<TARGET_FILE:ledger> --store memory
            --charges 400 --kills 20)
  set_tests_properties(test_ledger_crash_memstore PROPERTIES
    LABELS e2e TIMEOUT 120)
  # The SQLite store in a separate file: charge and response are two
  # commits, so a crash between them must be caught by the UNIQUE key.
  add_test(NAME test_ledger_crash_sqlite_sep
    COMMAND test_ledger_crash $<TARGET_FILE:ledger> --store sqlite:sep
            --charges 400 --kills 20)
  set_tests_properties(test_ledger_crash_sqlite_sep PROPERTIES
    LABELS e2e TIMEOUT 120)
  # The ledger on the server stores (real redis-server and PostgreSQL from
  # scripts/services.sh; they fail, not skip, without them).
  foreach(b redis pg)
    add_test(NAME test_ledger_crash_${b}
      COMMAND test_ledger_crash $<TARGET_FILE:ledger> --store ${b}:env
              --charges 300 --kills 20)
    set_tests_properties(test_ledger_crash_${b} PROPERTIES
      LABELS backend TIMEOUT 120)
  endforeach()
endif()

if(TARGET ledger)
  # The ledger over HTTP: principals, the key contract on the wire, 409,
  # shedding, outage, metrics, SIGTERM.
  rein_add_test(NAME test_ledger_http
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_http.c
    LIBS PkgConfig::IDEM_HTTP_T_CURL
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e concurrency TIMEOUT 120)
endif()

# SPDX-License-Identifier: Apache-2.0
# Idempotency store: one conformance suite run against every backend
# (argv[1] picks it), the SQLite crash test, and the unit tests of the
# front end. PostgreSQL and Redis come from scripts/services.sh.
# Built without PostgreSQL (REIN_WITH_PG=OFF), the suites run on the other
# backends (REIN_TEST_PG=0 leaves its cases out).
if(TARGET rein_idem_redis AND TARGET rein_idem_sqlite)
  set(_idem_all rein_idem_sqlite rein_idem_redis PkgConfig::REIN_SQLITE
      PkgConfig::REIN_REDIS)
  set(_idem_backends sqlite redis)
  if(TARGET rein_idem_pg)
    list(APPEND _idem_all rein_idem_pg PkgConfig::REIN_PG)
    list(APPEND _idem_backends pg)
  endif()
  rein_add_test(NAME test_idem_memory
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_idem_conformance.c
    LIBS ${_idem_all} ARGS memory LABELS unit backend concurrency TIMEOUT 120)
  foreach(b ${_idem_backends})
    add_test(NAME test_idem_${b} COMMAND test_idem_memory ${b})
    set_tests_properties(test_idem_${b} PROPERTIES TIMEOUT 240)
  endforeach()
  set_tests_properties(test_idem_sqlite PROPERTIES
    LABELS "unit;backend;concurrency")
  set_tests_properties(test_idem_redis PROPERTIES
    LABELS "backend;concurrency")
  if(TARGET rein_idem_pg)
    set_tests_properties(test_idem_pg PROPERTIES LABELS "backend;concurrency")
  endif()
  rein_add_test(NAME test_idem_sqlite_crash
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_idem_sqlite_crash.c
    LIBS ${_idem_all} LABELS backend TIMEOUT 120)
  rein_add_test(NAME test_idem_unit
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_idem.c
    LIBS ${_idem_all} LABELS unit TIMEOUT 60)
  rein_add_test(NAME test_idem_model
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_idem_model.c
    LIBS ${_idem_all} LABELS unit TIMEOUT 120)
  foreach(t test_idem_memory test_idem_sqlite_crash test_idem_unit
            test_idem_model)
    if(TARGET rein_idem_pg)
      target_compile_definitions(${t} PRIVATE REIN_TEST_PG=1)
    else()
      target_compile_definitions(${t} PRIVATE REIN_TEST_PG=0)
    endif()
  endforeach()
endif()

# The EXAMPLE section of docs/idempotency.md, compiled and run as is.
file(READ ${PROJECT_SOURCE_DIR}/docs/idempotency.md _idem_doc)
string(FIND "${_idem_doc}" "## EXAMPLE" _p)
if(TARGET rein_idem_sqlite AND _p GREATER -1)
  string(SUBSTRING "${_idem_doc}" ${_p} -1 _rest)
  string(FIND "${_rest}" "```c\n" _s)
  math(EXPR _s "${_s} + 5")
  string(SUBSTRING "${_rest}" ${_s} -1 _rest)
  string(FIND "${_rest}" "```" _e)
  string(SUBSTRING "${_rest}" 0 ${_e} _code)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/idem_doc_example.c "${_code}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               ${PROJECT_SOURCE_DIR}/docs/idempotency.md)
  rein_add_test(NAME test_idem_doc_example
    SOURCES ${CMAKE_CURRENT_BINARY_DIR}/idem_doc_example.c
    LIBS rein_idem_sqlite LABELS unit TIMEOUT 60)
endif()

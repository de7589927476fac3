# SPDX-License-Identifier: Apache-2.0
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
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS PkgConfig::IDEM_HTTP_T_CURL PkgConfig::IDEM_HTTP_T_SQLITE ledger_auth
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e TIMEOUT 120)
  # A SIGKILL at every step of a keyed charge (after the claim, the charge,
  # the stored response, the commit), in one transaction (no --work-ms)
  # and in two: charge and stored response together or not at all; one
  # charge after the retry.
  rein_add_test(NAME test_ledger_steps
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_steps.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS PkgConfig::IDEM_HTTP_T_SQLITE ledger_auth
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e TIMEOUT 90)
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
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS PkgConfig::IDEM_HTTP_T_CURL ledger_auth
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e concurrency TIMEOUT 120)
  # A bounded slowloris (<= 4,200 sockets from 127.0.0.2 for 12 s) while
  # 127.0.0.1 polls /healthz, and a head dribbled past the deadline. It
  # holds thousands of sockets: it runs alone.
  rein_add_test(NAME test_ledger_slowloris
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_slowloris.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS ledger_auth Threads::Threads
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e TIMEOUT 90)
  set_tests_properties(test_ledger_slowloris PROPERTIES RUN_SERIAL TRUE)
  # The store dies under the ledger (a private redis-server, killed and
  # restarted empty): 503s, reconnect, and still one charge per key.
  rein_add_test(NAME test_ledger_store_loss
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_store_loss.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS ledger_auth
    ARGS $<TARGET_FILE:ledger>
    LABELS backend TIMEOUT 60)
endif()

# libFuzzer target for the key parser and problem bodies: the helper's
# sources are compiled into the fuzzer so libFuzzer sees their coverage.
# The seed corpus is written into the build tree at configure time; what
# long runs found is tests/fuzz/corpus/idem_http (scripts/fuzz.sh --merge).
# The fuzzers below compile idem_http.c and ledger_json.c, which use jansson.
pkg_check_modules(FUZZ_JANSSON IMPORTED_TARGET jansson)
if(REIN_FUZZ AND CMAKE_C_COMPILER_ID STREQUAL "Clang" AND TARGET rein_idem)
  add_executable(fuzz_idem_http
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_idem_http_fuzz.c
    ${PROJECT_SOURCE_DIR}/src/idem/http/sf.c
    ${PROJECT_SOURCE_DIR}/src/idem/http/idem_http.c)
  target_link_libraries(fuzz_idem_http PRIVATE rein_idem
                        PkgConfig::FUZZ_JANSSON)
  target_compile_options(fuzz_idem_http PRIVATE
    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_link_options(fuzz_idem_http PRIVATE
    -fsanitize=fuzzer,address,undefined)
  set(IDEM_HTTP_SEEDS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_idem_http_seeds)
  set(IDEM_HTTP_WORK ${CMAKE_CURRENT_BINARY_DIR}/fuzz_idem_http_corpus)
  file(MAKE_DIRECTORY ${IDEM_HTTP_SEEDS} ${IDEM_HTTP_WORK})
  set(i 0)
  foreach(seed "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"" "\"a\\\"b\\\\c\""
          "\"k\";v=1;b=?1;t=tok/x;s=\"x\";d=-1.5;y=:AQID:" "abc" "\"\""
          "\"a\", \"b\"" "  \"x\"\t")
    file(WRITE ${IDEM_HTTP_SEEDS}/seed${i} "${seed}")
    math(EXPR i "${i} + 1")
  endforeach()
  add_test(NAME fuzz_idem_http
           COMMAND fuzz_idem_http -max_total_time=10 -max_len=600
                   -print_final_stats=1 ${IDEM_HTTP_WORK} ${IDEM_HTTP_SEEDS}
                   ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/idem_http)
  set_tests_properties(fuzz_idem_http PROPERTIES LABELS fuzz TIMEOUT 120)
endif()

# libFuzzer targets for examples/ledger's readers of outside input: the
# request body (ledger_json.c) and the header fields the ledger hands to
# the helper (ledger_hdrs.c over rein_idem_http_read_key). The sources are
# compiled into each fuzzer so libFuzzer sees their coverage; the seed
# corpora under fuzz/corpus/ are only read (new inputs go to the build tree).
if(TARGET rein_idem AND EXISTS ${PROJECT_SOURCE_DIR}/examples/ledger/ledger_hdrs.c)
  set(_ledger_dir ${PROJECT_SOURCE_DIR}/examples/ledger)
  rein_add_fuzzer(NAME fuzz_ledger_json
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_ledger_json.c
            ${_ledger_dir}/ledger_json.c
    INCLUDES ${_ledger_dir} ${PROJECT_SOURCE_DIR}/include
    LIBS rein_static PkgConfig::FUZZ_JANSSON ARGS -max_len=8192)
  rein_add_fuzzer(NAME fuzz_ledger_headers
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_ledger_headers.c
            ${_ledger_dir}/ledger_hdrs.c ${PROJECT_SOURCE_DIR}/src/idem/http/sf.c
            ${PROJECT_SOURCE_DIR}/src/idem/http/idem_http.c
    INCLUDES ${_ledger_dir} LIBS rein_idem PkgConfig::FUZZ_JANSSON
    ARGS -max_len=8192)
endif()

# The EXAMPLE section of docs/idempotency-http.md, compiled and run as is.
file(READ ${PROJECT_SOURCE_DIR}/docs/idempotency-http.md _ih_doc)
string(FIND "${_ih_doc}" "## EXAMPLE" _ih_p)
if(TARGET rein_idem_http AND _ih_p GREATER -1)
  string(SUBSTRING "${_ih_doc}" ${_ih_p} -1 _ih_rest)
  string(FIND "${_ih_rest}" "```c\n" _ih_s)
  math(EXPR _ih_s "${_ih_s} + 5")
  string(SUBSTRING "${_ih_rest}" ${_ih_s} -1 _ih_rest)
  string(FIND "${_ih_rest}" "```" _ih_e)
  string(SUBSTRING "${_ih_rest}" 0 ${_ih_e} _ih_code)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/idem_http_doc_example.c "${_ih_code}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               ${PROJECT_SOURCE_DIR}/docs/idempotency-http.md)
  rein_add_test(NAME test_idem_http_doc_example
    SOURCES ${CMAKE_CURRENT_BINARY_DIR}/idem_http_doc_example.c
    LIBS rein_idem_http LABELS unit TIMEOUT 60)
endif()

# SPDX-License-Identifier: Apache-2.0
# Tests of the libcurl integration (src/curl) against a scripted
# libmicrohttpd server on loopback (tests/support-curl), and the e2e test of
# `rein demo` against examples/ledger.
if(TARGET rein_curl)
  pkg_check_modules(CURL_T_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  add_library(rein_curl_test_server STATIC
    ${CMAKE_CURRENT_SOURCE_DIR}/support-curl/curl_test_server.c)
  target_include_directories(rein_curl_test_server PUBLIC
    ${CMAKE_CURRENT_SOURCE_DIR}/support-curl)
  target_link_libraries(rein_curl_test_server PUBLIC PkgConfig::CURL_T_MHD
    Threads::Threads)
  rein_add_test(NAME test_curl
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_curl.c
    LIBS rein_curl rein_curl_test_server
    LABELS unit TIMEOUT 60)
  target_compile_definitions(test_curl PRIVATE
    REIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  # Derived and passed-through keys, the don't-retry reply, RateLimit
  # pacing (blocking and multi) and the retention read from the response.
  rein_add_test(NAME test_curl_enforce
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_curl_enforce.c
    LIBS rein_curl rein_curl_test_server
    LABELS unit TIMEOUT 60)
  # Endpoints per call: retries and hedges to the untried replica, least
  # recently failed, per-endpoint breakers, the resolver, the multi driver.
  rein_add_test(NAME test_curl_endpoints
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_curl_endpoints.c
    LIBS rein_curl rein_curl_test_server
    LABELS unit TIMEOUT 60)
  # One client shared by threads (blocking and multi), under TSan too.
  rein_add_test(NAME test_curl_concurrency
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_curl_concurrency.c
    LIBS rein_curl rein_curl_test_server
    LABELS unit concurrency TIMEOUT 60)
  # contract -> curl client -> simulator agree on every status
  # (rein/classify.h); needs the contract and simulator libraries too.
  if(TARGET rein_sim AND TARGET rein_contract)
    rein_add_test(NAME test_classify_agree
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_classify_agree.c
      LIBS rein_curl rein_contract rein_sim rein_curl_test_server
      LABELS unit TIMEOUT 120)
  endif()
endif()

# End to end: a keyed POST whose first attempt stalls meets the ledger's
# 409 in progress and waits for the replay (~3 s).
if(TARGET rein_curl AND TARGET ledger)
  rein_add_test(NAME test_ledger_409
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_409.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS rein_curl ledger_auth
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e TIMEOUT 60)
endif()

# End to end: endpoints per call against two real ledgers, one in an
# injected outage: 100 keyed charges with both as endpoints all succeed
# (every retry on the healthy replica); with one URL per call, about half
# fail (~3 s).
if(TARGET rein_curl AND TARGET ledger)
  rein_add_test(NAME test_curl_replicas
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_curl_replicas.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/checkout_proc.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS rein_curl ledger_auth
    ARGS $<TARGET_FILE:ledger>
    LABELS e2e TIMEOUT 120)
endif()

# End to end: a shortened `rein demo` against the real ledger, everything
# found through the build tree's layout (~30 s).
if(TARGET rein_curl AND TARGET ledger AND TARGET rein_cli
   AND TARGET rein-demo-load)
  add_executable(test_demo ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_demo.c)
  add_test(NAME test_demo COMMAND test_demo $<TARGET_FILE:rein_cli>)
  set_tests_properties(test_demo PROPERTIES LABELS e2e TIMEOUT 120)
endif()
# The demo's contract describes the demo, so R005 sees its real load.
if(TARGET rein_cli)
  add_test(NAME test_ledger_contract
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_contract.sh
            $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_ledger_contract PROPERTIES LABELS e2e TIMEOUT 60)
endif()
# `rein demo` reads its rounds back from rein-demo-load's JSON (a stand-in
# harness), and the real harness takes its numbers from the scenario (~8 s).
if(TARGET rein_cli AND TARGET rein_sim)
  add_test(NAME test_demo_json
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_demo_json.sh
            $<TARGET_FILE:rein_cli>
            $<$<TARGET_EXISTS:rein-demo-load>:$<TARGET_FILE:rein-demo-load>>
            $<$<TARGET_EXISTS:rein-demo-load>:$<TARGET_FILE:ledger>>
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_demo_json PROPERTIES LABELS e2e TIMEOUT 60)
endif()

# "The Tail at Scale" live (issue 18): the ledger with --slow-tail, plain
# vs hedged rounds of rein-demo-load --tail; hedging leaves at most a
# quarter of the slow calls for < 5% more requests (~25 s; plain build
# only; docs/fidelity.md "Hedging, live vs simulated").
if(TARGET rein-demo-load AND TARGET ledger)
  add_test(NAME test_ledger_hedge
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_ledger_hedge.sh
            $<TARGET_FILE:rein-demo-load> $<TARGET_FILE:ledger>
            ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_ledger_hedge PROPERTIES LABELS e2e TIMEOUT 60)
endif()

# End to end through three processes (this test's rein_curl shop ->
# examples/checkout -> examples/ledger): a key derived across two hops,
# "don't retry" carried upward (the ledger's requests do not multiply),
# RateLimit pacing (no 429 for the paced client), the key retention
# refused at run time, and the caller's deadline propagated (no charge made
# after the shop gave up; some without propagation) (~35 s).
if(TARGET rein_curl AND TARGET ledger AND TARGET checkout)
  rein_add_test(NAME test_checkout
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_checkout.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/checkout_proc.c
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
    LIBS rein_curl rein_contract ledger_auth Threads::Threads
    ARGS $<TARGET_FILE:ledger> $<TARGET_FILE:checkout>
         ${PROJECT_SOURCE_DIR}/examples/contracts/checkout
    LABELS e2e TIMEOUT 120)
endif()

# SPDX-License-Identifier: Apache-2.0
# Contract tests: the loader's diagnostics, every rule firing and staying
# silent, the policy bridge against the core, `rein check` on the shipped
# examples, and (clang + REIN_FUZZ) a brief libFuzzer run of the loader.
if(TARGET rein_contract)
  rein_add_test(NAME test_contract_load SOURCES unit/test_contract_load.c
                LIBS rein_contract LABELS unit TIMEOUT 60)
  rein_add_test(NAME test_contract_rules SOURCES unit/test_contract_rules.c
                LIBS rein_contract LABELS unit TIMEOUT 120)
  rein_add_test(NAME test_contract_admission
                SOURCES unit/test_contract_admission.c
                LIBS rein_contract LABELS unit TIMEOUT 60)
  rein_add_test(NAME test_contract_policy SOURCES unit/test_contract_policy.c
                LIBS rein_contract LABELS unit TIMEOUT 60)
  rein_add_test(NAME test_contract_examples
                SOURCES unit/test_contract_examples.c
                LIBS rein_contract LABELS unit e2e TIMEOUT 60
                ARGS $<TARGET_FILE:rein_cli>
                     ${PROJECT_SOURCE_DIR}/examples/contracts)
  if(REIN_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    # The library's sources are compiled into the target at -O1 (as
    # OSS-Fuzz builds targets, and as fuzz_scenario does): at -O0 the
    # loader's per-byte loops, every compare traced, were most of each input.
    pkg_check_modules(FUZZ_CONTRACT_YAML REQUIRED IMPORTED_TARGET yaml-0.1)
    file(GLOB contract_srcs ${PROJECT_SOURCE_DIR}/src/contract/*.c)
    add_executable(fuzz_contract fuzz/fuzz_contract.c ${contract_srcs})
    target_include_directories(fuzz_contract PRIVATE
      ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include
      ${PROJECT_SOURCE_DIR}/src/contract)
    target_compile_options(fuzz_contract PRIVATE
      -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -O1)
    target_link_options(fuzz_contract PRIVATE
      -fsanitize=fuzzer,address,undefined)
    pkg_check_modules(FUZZ_CONTRACT_JANSSON REQUIRED IMPORTED_TARGET jansson)
    target_link_libraries(fuzz_contract PRIVATE rein_static rein_admit
                          PkgConfig::FUZZ_CONTRACT_YAML
                          PkgConfig::FUZZ_CONTRACT_JANSSON m)
    # New inputs go to a scratch corpus in the build tree (first directory);
    # the shipped seeds are read only.
    set(scratch ${CMAKE_CURRENT_BINARY_DIR}/fuzz_contract_corpus)
    file(MAKE_DIRECTORY ${scratch})
    add_test(NAME fuzz_contract
             COMMAND fuzz_contract -max_total_time=10 -runs=200000
                     -max_len=4096 -timeout=5 ${scratch}
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/contract)
    set_tests_properties(fuzz_contract PROPERTIES LABELS fuzz TIMEOUT 120)
  endif()
endif()

# Every JSON document of `rein check` and `rein ttl` is UTF-8 JSON when a
# file name is not UTF-8 (U+FFFD in names, exact bytes in SARIF URIs).
if(TARGET rein_cli)
  add_test(NAME json_utf8
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/json_utf8.sh
            $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR})
  set_tests_properties(json_utf8 PROPERTIES LABELS e2e TIMEOUT 60)
endif()

# SARIF that GitHub code scanning ingests: validated by Microsoft's SARIF
# Multitool with GitHub's rules (npm, tools/package.json; scripts/deps.sh
# check installs it).
find_program(REIN_SARIF_MULTITOOL Sarif.Multitool NO_DEFAULT_PATH
  PATHS ${PROJECT_SOURCE_DIR}/tools/node_modules/@microsoft/sarif-multitool-linux)
if(TARGET rein_cli AND REIN_SARIF_MULTITOOL)
  add_test(NAME sarif_github
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/sarif_github.sh
            $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR} ${REIN_SARIF_MULTITOOL})
  set_tests_properties(sarif_github PROPERTIES LABELS e2e TIMEOUT 180)
elseif(TARGET rein_cli)
  message(WARNING "SARIF Multitool not found (scripts/deps.sh check installs it): sarif_github test not registered")
endif()

# One policy model: the table, the duration grammar, and for every example
# call and 1,000 random contracts the same canonical policy from `rein
# policy --json`, the libcurl client and the simulator.
if(TARGET rein_contract AND TARGET rein_curl AND TARGET rein_sim)
  rein_add_test(NAME test_model SOURCES unit/test_model.c
                LIBS rein_curl rein_contract rein_sim LABELS unit e2e
                TIMEOUT 300
                ARGS $<TARGET_FILE:rein_cli>
                     ${PROJECT_SOURCE_DIR}/examples/contracts)
endif()

# SPDX-License-Identifier: Apache-2.0
# Simulator tests: loader, engine, writers and sweeps (unit); the five shipped
# scenarios reproduce their claims and the CLI is deterministic (e2e);
# (clang + REIN_FUZZ) a brief libFuzzer run of the scenario loader.
if(TARGET rein_sim)
  rein_add_test(NAME test_sim SOURCES unit/test_sim.c LIBS rein_sim
                LABELS unit TIMEOUT 120)
  # the sweep runs threads: `concurrency` puts it in the TSan step
  rein_add_test(NAME test_sim_sweep SOURCES unit/test_sim_sweep.c
                LIBS rein_sim LABELS unit concurrency TIMEOUT 120)
  # periodic arrivals, the buffer outage, recovery against the offered
  # load, per-server figures over seeds (issue 18)
  rein_add_test(NAME test_sim_features SOURCES unit/test_sim_features.c
                LIBS rein_sim LABELS unit TIMEOUT 120)
  # replicas: rein_curl's endpoints in the model (issue 18 item 5)
  rein_add_test(NAME test_sim_replicas SOURCES unit/test_sim_replicas.c
                LIBS rein_sim LABELS unit TIMEOUT 120)
  rein_add_test(NAME test_sim_expz SOURCES unit/test_sim_expz.c
                LIBS rein_sim LABELS unit TIMEOUT 120)
  target_include_directories(test_sim_expz PRIVATE ${PROJECT_SOURCE_DIR}/src/sim)
  rein_add_test(NAME test_sim_scenarios SOURCES unit/test_sim_scenarios.c
                LIBS rein_sim LABELS e2e TIMEOUT 600
                ENV REIN_SCENARIO_DIR=${PROJECT_SOURCE_DIR}/examples/scenarios)
  add_test(NAME sim_cli
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/sim_cli.sh
                   $<TARGET_FILE:rein_cli>
                   ${PROJECT_SOURCE_DIR}/examples/scenarios)
  set_tests_properties(sim_cli PROPERTIES LABELS e2e TIMEOUT 300)
  if(REIN_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    # The loader is compiled into the fuzzer so libFuzzer sees its coverage.
    pkg_check_modules(FUZZ_YAML REQUIRED IMPORTED_TARGET yaml-0.1)
    file(GLOB sim_srcs ${PROJECT_SOURCE_DIR}/src/sim/*.c)
    add_executable(fuzz_scenario fuzz/fuzz_scenario.c ${sim_srcs})
    target_include_directories(fuzz_scenario PRIVATE
      ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include)
    # -O1 as OSS-Fuzz builds targets: the engine's inner loop at -O0 (no
    # inlining of its one-line helpers, every compare traced) was most of
    # each input; the loader and engine are the same code either way.
    target_compile_options(fuzz_scenario PRIVATE
      -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -O1)
    target_link_options(fuzz_scenario PRIVATE
      -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_scenario PRIVATE rein_interop rein_contract rein_static PkgConfig::FUZZ_YAML m)
    if(TARGET rein_admit)
      target_link_libraries(fuzz_scenario PRIVATE rein_admit)
      target_compile_definitions(fuzz_scenario PRIVATE REIN_SIM_ADMIT)
    endif()
    set(scratch ${CMAKE_CURRENT_BINARY_DIR}/fuzz_scenario_corpus)
    file(MAKE_DIRECTORY ${scratch})
    add_test(NAME fuzz_scenario
             COMMAND fuzz_scenario -max_total_time=10 -runs=100000
                     -max_len=4096 -timeout=5 ${scratch}
                     ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/scenario)
    set_tests_properties(fuzz_scenario PROPERTIES LABELS fuzz TIMEOUT 120)
  endif()
endif()

# The report's values, read back out of the page as headless Chromium
# renders it: tooltips equal the CSV, drawn lines equal the tooltips
# through the labelled axis, one unit per axis, linear and log
# (tests/e2e/report_values.py; the big scenario puts the axes in k).
find_program(REIN_CHROMIUM NAMES chromium chromium-browser)
find_program(REIN_PYTHON3 python3)
if(TARGET rein_cli AND REIN_CHROMIUM AND REIN_PYTHON3)
  foreach(_rv demo big)
    if(_rv STREQUAL "demo")
      set(_sc ${PROJECT_SOURCE_DIR}/examples/scenarios/demo.yaml)
    else()
      set(_sc ${CMAKE_CURRENT_SOURCE_DIR}/e2e/report_big.yaml)
    endif()
    add_test(NAME report_values_${_rv}
      COMMAND ${REIN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/report_values.py
              $<TARGET_FILE:rein_cli> ${_sc} ${REIN_CHROMIUM})
    set_tests_properties(report_values_${_rv} PROPERTIES LABELS e2e
                         TIMEOUT 180)
  endforeach()
  # rein demo's report against its own --json: a short live demo (a plain
  # build only: the timing of a live round is not what sanitizers check)
  if(TARGET rein-demo-load AND TARGET ledger)
    add_test(NAME report_values_live_demo
      COMMAND ${REIN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/report_values.py
              $<TARGET_FILE:rein_cli> demo ${REIN_CHROMIUM})
    set_tests_properties(report_values_live_demo PROPERTIES
      LABELS "e2e;plain-only" TIMEOUT 300 RUN_SERIAL TRUE)
  endif()
elseif(TARGET rein_cli)
  message(WARNING "chromium or python3 not found: report_values tests not "
          "registered; scripts/deps.sh check installs chromium")
endif()

# docs/fidelity.md's explanation of the rein round's throttle gap: the
# contract's policy inline equals demo.yaml's rein variant seed for seed,
# and one throttle per cohort (the live demo's one process) refuses at most
# a third of what 90 per-client throttles refuse.
if(TARGET rein_cli AND REIN_PYTHON3)
  add_test(NAME fidelity_throttle
    COMMAND ${REIN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fidelity_throttle.py
            $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR}/examples/scenarios/demo.yaml
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fidelity_throttle.yaml)
  set_tests_properties(fidelity_throttle PROPERTIES LABELS e2e TIMEOUT 300)
  # docs/fidelity.md's "Rein peak" gap: demo.yaml's rein variant with
  # evenly spaced (periodic) arrivals against its Poisson cohort
  add_test(NAME fidelity_periodic
    COMMAND ${REIN_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fidelity_periodic.py
            $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR}/examples/scenarios/demo.yaml
            ${CMAKE_CURRENT_SOURCE_DIR}/e2e/fidelity_periodic.yaml)
  set_tests_properties(fidelity_periodic PROPERTIES LABELS e2e TIMEOUT 300)
endif()

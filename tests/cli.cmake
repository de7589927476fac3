# SPDX-License-Identifier: Apache-2.0
# The rein tool's front end (tests/e2e/cli.sh): help, man pages and
# completion from one option table per command, did-you-mean, the bash and
# zsh completion scripts, and colour only on a terminal without NO_COLOR.
# man-db and groff check the generated pages; zsh (Debian package zsh,
# scripts/deps.sh check) runs the zsh script.
if(TARGET rein_cli)
  find_program(REIN_ZSH zsh)
  find_program(REIN_MAN man)
  if(NOT REIN_ZSH)
    message(WARNING "zsh not found: cli_tool tests the bash completion only; scripts/deps.sh check installs it")
    set(REIN_ZSH "")
  endif()
  if(REIN_MAN)
    add_test(NAME cli_tool
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/cli.sh
                     $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR}
                     ${PROJECT_BINARY_DIR}/cli/man ${REIN_ZSH})
    set_tests_properties(cli_tool PROPERTIES LABELS e2e TIMEOUT 120)
  else()
    message(WARNING "man not found (Debian package man-db): cli_tool test not registered; scripts/deps.sh check installs it")
  endif()
endif()

# The retry-only breaker through rein policy, check and simulate (issue 18).
if(TARGET rein_cli AND TARGET rein_sim)
  add_test(NAME policy_retry_gate
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/e2e/policy_retry_gate.sh
                   $<TARGET_FILE:rein_cli>
                   ${PROJECT_SOURCE_DIR}/examples/scenarios)
  set_tests_properties(policy_retry_gate PROPERTIES LABELS e2e TIMEOUT 60)
endif()

# SPDX-License-Identifier: Apache-2.0
# ReinLayout.cmake: where `rein demo` finds what it runs, installed and in
# the build tree alike. Installed: the programs it starts (the ledger,
# rein-demo-load) in ${libexecdir}/rein, the data it reads (the demo
# scenario, the contracts) in ${datadir}/rein/{scenarios,contracts}. The
# build tree mirrors that layout around build/cli/rein, so the one lookup
# (relative to the running rein, through REIN_LAYOUT_LIBEXEC and
# REIN_LAYOUT_DATA, paths relative to ${bindir}) works in both:
# build/libexec/rein holds symlinks to the built programs and
# build/share/rein symlinks to examples/scenarios and examples/contracts.
#
# rein_layout_program(TARGET t): install t in ${libexecdir}/rein under its
# file name and link it into the build tree's mirror.
set(REIN_LIBEXEC_DIR ${CMAKE_INSTALL_LIBEXECDIR}/rein)
set(REIN_DATA_DIR ${CMAKE_INSTALL_DATADIR}/rein)
file(RELATIVE_PATH REIN_LAYOUT_LIBEXEC /prefix/${CMAKE_INSTALL_BINDIR}
     /prefix/${REIN_LIBEXEC_DIR})
file(RELATIVE_PATH REIN_LAYOUT_DATA /prefix/${CMAKE_INSTALL_BINDIR}
     /prefix/${REIN_DATA_DIR})
get_filename_component(REIN_BUILD_LIBEXEC
  ${PROJECT_BINARY_DIR}/cli/${REIN_LAYOUT_LIBEXEC} ABSOLUTE)
get_filename_component(REIN_BUILD_DATA
  ${PROJECT_BINARY_DIR}/cli/${REIN_LAYOUT_DATA} ABSOLUTE)
file(MAKE_DIRECTORY ${REIN_BUILD_LIBEXEC} ${REIN_BUILD_DATA})
foreach(d scenarios contracts)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/examples/${d} ${REIN_BUILD_DATA}/${d}
       SYMBOLIC)
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/examples/scenarios/demo.yaml
        DESTINATION ${REIN_DATA_DIR}/scenarios)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/contracts/ledger
        DESTINATION ${REIN_DATA_DIR}/contracts)

function(rein_layout_program)
  cmake_parse_arguments(P "" "TARGET" "" ${ARGN})
  install(TARGETS ${P_TARGET} RUNTIME DESTINATION ${REIN_LIBEXEC_DIR})
  add_custom_command(TARGET ${P_TARGET} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -E create_symlink $<TARGET_FILE:${P_TARGET}>
            ${REIN_BUILD_LIBEXEC}/$<TARGET_FILE_NAME:${P_TARGET}>
    VERBATIM)
endfunction()

# SPDX-License-Identifier: Apache-2.0
# rein_install_component(NAME n DESC "..." TARGETS t... [REQUIRES pkg...]):
# install an optional library's archives as install component `n` with a
# pkg-config file rein-n.pc. REQUIRES lists pkg-config packages (system
# libraries or other rein-* components) it needs. The archives use the
# core's internal helpers, so the .pc links the static core (librein.a),
# like rein-idem.pc. The CMake package (find_package(rein)) exports the
# core only; these components are consumed through pkg-config.
function(rein_install_component)
  cmake_parse_arguments(C "" "NAME;DESC" "TARGETS;REQUIRES" ${ARGN})
  install(TARGETS ${C_TARGETS}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${C_NAME})
  set(C_LIBS "")
  foreach(t ${C_TARGETS})
    get_target_property(_out ${t} OUTPUT_NAME)
    if(NOT _out)
      set(_out ${t})
    endif()
    string(APPEND C_LIBS "-l${_out} ")
  endforeach()
  string(JOIN " " C_REQUIRES ${C_REQUIRES})
  file(RELATIVE_PATH REIN_PC_UP "/r/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/r")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/rein-component.pc.in
                 ${PROJECT_BINARY_DIR}/rein-${C_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/rein-${C_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT ${C_NAME})
endfunction()

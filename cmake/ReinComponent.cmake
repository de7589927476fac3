# SPDX-License-Identifier: Apache-2.0
# How rein's optional libraries are built and installed: one home for the
# feature switches (REIN_WITH_*), for the pair of libraries every component
# gives (a shared one for users, a static one for the tree's own tests and
# the CLI, which use internal functions), for their symbol versions, their
# pkg-config files and their CMake targets.
#
# SONAME policy (docs/abi.md): every shared library carries
# REIN_SOVERSION, an integer kept apart from the release number and raised
# whenever abidiff finds an incompatible change against the last release's
# baseline (abi/). Public symbols carry the version node REIN_<SOVERSION>;
# the interface between rein's own libraries (the rein__* backend hooks)
# carries REIN_PRIVATE_<release>, so a backend library from another release
# fails to load instead of misreading a struct.

# rein_feature(NAME PG PKG libpq DEBIAN libpq-dev FOR "what it enables")
# REIN_WITH_<NAME> is AUTO (the default: on when pkg-config finds PKG, a
# message naming the package when not), ON (required: configuring fails
# without it) or OFF. Sets REIN_HAVE_<NAME> and, when found, the imported
# target PkgConfig::REIN_<NAME>.
function(rein_feature)
  cmake_parse_arguments(F "" "NAME;PKG;DEBIAN;FOR" "" ${ARGN})
  set(REIN_WITH_${F_NAME} AUTO CACHE STRING
      "Build ${F_FOR} (needs ${F_PKG}): AUTO, ON or OFF")
  set_property(CACHE REIN_WITH_${F_NAME} PROPERTY STRINGS AUTO ON OFF)
  set(_want ${REIN_WITH_${F_NAME}})
  string(TOUPPER "${_want}" _want)
  if(_want MATCHES "^(OFF|NO|FALSE|0|N)$")
    message(STATUS "rein: REIN_WITH_${F_NAME}=OFF: ${F_FOR} not built")
    set(REIN_HAVE_${F_NAME} FALSE PARENT_SCOPE)
    return()
  endif()
  pkg_check_modules(REIN_${F_NAME} QUIET IMPORTED_TARGET GLOBAL ${F_PKG})
  if(REIN_${F_NAME}_FOUND)
    set(REIN_HAVE_${F_NAME} TRUE PARENT_SCOPE)
    return()
  endif()
  if(_want MATCHES "^(ON|YES|TRUE|1|Y)$")
    message(FATAL_ERROR "rein: REIN_WITH_${F_NAME}=ON but pkg-config finds "
      "no ${F_PKG}. Install it (apt-get install ${F_DEBIAN}, or "
      "scripts/deps.sh build), or configure with -DREIN_WITH_${F_NAME}=OFF "
      "to build without ${F_FOR}.")
  endif()
  message(STATUS "rein: ${F_PKG} not found (apt-get install ${F_DEBIAN}): "
    "${F_FOR} not built; -DREIN_WITH_${F_NAME}=ON makes this an error")
  set(REIN_HAVE_${F_NAME} FALSE PARENT_SCOPE)
endfunction()

# rein_library(NAME idem-sqlite SOURCES a.c ... [OBJECTS objlib ...]
#              [DEPS rein_idem ...] [PKGS PkgConfig::X ...]
#              [REQUIRES rein-idem ...] [REQUIRES_PRIVATE sqlite3 ...]
#              [INCLUDES dir ...] DESC "...")
# Builds, from one set of objects:
#   rein_<name>          static (the tree's tests, examples and CLI link it)
#   rein_<name>_shared   librein_<name>.so.REIN_SOVERSION, on librein.so
#                        and the shared DEPS, with symbol versions
# NAME's dashes become underscores in target and file names. DEPS are the
# static names of rein libraries (rein_static for the core); PKGS the
# imported targets of system libraries. Installs both as install component
# NAME, exported as rein::<name> (shared) and rein::<name>_static in
# rein_<name>Targets.cmake, with
# rein-<name>.pc (Requires: rein and REQUIRES; Requires.private: the rest).
function(rein_library)
  cmake_parse_arguments(L "" "NAME;DESC"
    "SOURCES;OBJECTS;DEPS;PKGS;REQUIRES;REQUIRES_PRIVATE;INCLUDES" ${ARGN})
  string(REPLACE "-" "_" _id ${L_NAME})
  set(t rein_${_id})
  set(_objs "")
  foreach(o ${L_OBJECTS})
    list(APPEND _objs $<TARGET_OBJECTS:${o}>)
  endforeach()
  add_library(${t}_obj OBJECT ${L_SOURCES})
  target_include_directories(${t}_obj PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>)
  if(L_INCLUDES)
    target_include_directories(${t}_obj PRIVATE ${L_INCLUDES})
  endif()
  target_compile_definitions(${t}_obj PRIVATE REIN_BUILDING)
  target_link_libraries(${t}_obj PUBLIC ${L_DEPS} ${L_PKGS})
  foreach(o ${L_OBJECTS})
    target_link_libraries(${t}_obj PUBLIC ${o})
  endforeach()
  # Fuzz builds instrument the libraries too, so libFuzzer sees coverage
  # of the parsers, not only of the target's own file.
  if(REIN_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    target_compile_options(${t}_obj PRIVATE -fsanitize=fuzzer-no-link)
  endif()

  add_library(${t} STATIC $<TARGET_OBJECTS:${t}_obj> ${_objs})
  target_include_directories(${t} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${t} PUBLIC ${L_DEPS} ${L_PKGS})
  if(REIN_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
    target_link_options(${t} INTERFACE -fsanitize=fuzzer-no-link)
  endif()
  set_target_properties(${t} PROPERTIES EXPORT_NAME ${_id}_static)
  add_library(rein::${_id}_static ALIAS ${t})
  set(_installed ${t})

  if(REIN_SHARED_LIBS)
    set(_sdeps "")
    foreach(d ${L_DEPS})
      if(d STREQUAL "rein_static")
        list(APPEND _sdeps rein)
      else()
        list(APPEND _sdeps ${d}_shared)
      endif()
    endforeach()
    add_library(${t}_shared SHARED $<TARGET_OBJECTS:${t}_obj> ${_objs})
    target_include_directories(${t}_shared PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${t}_shared PUBLIC ${_sdeps} PRIVATE ${L_PKGS})
    rein_shared_properties(${t}_shared ${t})
    set_target_properties(${t}_shared PROPERTIES EXPORT_NAME ${_id})
    add_library(rein::${_id} ALIAS ${t}_shared)
    list(APPEND _installed ${t}_shared)
  endif()

  # One export file per component, installed with it, so a partial
  # install (cmake --install --component NAME) has a loadable package.
  install(TARGETS ${_installed} EXPORT rein_${_id}Targets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${L_NAME}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${L_NAME})
  install(EXPORT rein_${_id}Targets NAMESPACE rein::
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/rein COMPONENT ${L_NAME})
  set_property(GLOBAL APPEND PROPERTY REIN_COMPONENTS ${_id})

  # pkg-config: the shared library by default; `pkg-config --static`
  # adds the system libraries of the static archive.
  set(C_NAME ${L_NAME})
  set(C_DESC ${L_DESC})
  set(C_LIBS "-l${t}")
  string(JOIN ", " C_REQUIRES rein ${L_REQUIRES})
  string(JOIN ", " C_REQUIRES_PRIVATE ${L_REQUIRES_PRIVATE})
  file(RELATIVE_PATH REIN_PC_UP "/r/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/r")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/rein-component.pc.in
                 ${PROJECT_BINARY_DIR}/rein-${L_NAME}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/rein-${L_NAME}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT ${L_NAME})
endfunction()

# The properties every rein shared library shares: SONAME, the symbol
# version script, no undefined symbols (so a library that forgot a
# dependency fails to link here, not in a user's program), and the output
# name of its static twin.
function(rein_shared_properties target static_name)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${static_name}
    VERSION ${REIN_SOVERSION}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH}
    SOVERSION ${REIN_SOVERSION}
    LINK_DEPENDS ${PROJECT_BINARY_DIR}/rein.map)
  target_link_options(${target} PRIVATE
    -Wl,--version-script=${PROJECT_BINARY_DIR}/rein.map)
  if(NOT REIN_SANITIZE AND NOT REIN_TSAN AND NOT REIN_FUZZ)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
endfunction()

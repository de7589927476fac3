# SPDX-License-Identifier: Apache-2.0
# Interop tests (rein_interop, issue 14): gRPC service config, Envoy,
# Istio and Gateway API import and export. test_interop_gateway and
# test_interop_gateway_validate (@kubernetes-models/gateway-api) are the
# Gateway API pair, shaped as Istio's; test_interop_linkerd checks
# ServiceProfile exports against the CRD's schema re-expressed in C. test_interop_istio: the VirtualService reader's
# diagnostics, Istio's retry semantics, the fixtures' values and round
# trips; test_interop_istio_validate: @kubernetes-models/istio's models
# accept every export and fixture and refuse what rein refuses. test_interop_envoy: the Envoy reader's diagnostics,
# golden contracts and round trips over the example contracts, a generated
# corpus and fixtures written from Envoy's documented examples. test_interop_grpc: the reader's diagnostics (file:line:col),
# round trips over the example contracts, a generated corpus and fixtures
# written from gRPC's documented examples. test_interop_grpc_runtime: a
# real gRPC runtime (Debian python3-grpcio) runs the exported configs on
# loopback and must make the attempts rein decides; it fails when
# python3-grpcio is missing (scripts/deps.sh check installs it).
if(TARGET rein_interop)
  rein_add_test(NAME test_interop_grpc SOURCES unit/test_interop_grpc.c interop/ix_test.c
                LIBS rein_interop LABELS unit TIMEOUT 120
                ARGS ${PROJECT_SOURCE_DIR}/examples/contracts
                     ${PROJECT_SOURCE_DIR}/tests/interop/fixtures/grpc
                     $<TARGET_FILE:rein_cli>)
  rein_add_test(NAME test_interop_envoy SOURCES unit/test_interop_envoy.c
                LIBS rein_interop PkgConfig::REIN_YAML LABELS unit TIMEOUT 120
                ARGS ${PROJECT_SOURCE_DIR}/examples/contracts
                     ${PROJECT_SOURCE_DIR}/tests/interop/fixtures/envoy
                     $<TARGET_FILE:rein_cli>)
  rein_add_test(NAME test_interop_mesh_unit SOURCES unit/test_interop_mesh.c
                LIBS rein_interop LABELS unit TIMEOUT 60)
  rein_add_test(NAME test_interop_istio SOURCES unit/test_interop_istio.c interop/ix_test.c
                LIBS rein_interop LABELS unit TIMEOUT 120
                ARGS ${PROJECT_SOURCE_DIR}/examples/contracts
                     ${PROJECT_SOURCE_DIR}/tests/interop/fixtures/istio
                     $<TARGET_FILE:rein_cli>)
  rein_add_test(NAME test_interop_gateway SOURCES unit/test_interop_gateway.c interop/ix_test.c
                LIBS rein_interop LABELS unit TIMEOUT 120
                ARGS ${PROJECT_SOURCE_DIR}/examples/contracts
                     ${PROJECT_SOURCE_DIR}/tests/interop/fixtures/gateway
                     $<TARGET_FILE:rein_cli>)
  rein_add_test(NAME test_interop_linkerd SOURCES unit/test_interop_linkerd.c interop/ix_test.c
                LIBS rein_interop PkgConfig::REIN_YAML LABELS unit TIMEOUT 120
                ARGS ${PROJECT_SOURCE_DIR}/examples/contracts
                     ${PROJECT_SOURCE_DIR}/tests/interop/fixtures/linkerd
                     $<TARGET_FILE:rein_cli>)
  # rein export nginx (the server side), without nginx (nginx_export in
  # tests/nginx.cmake runs the snippet in nginx).
  rein_add_test(NAME test_interop_nginx SOURCES unit/test_interop_nginx.c
                LIBS rein_interop LABELS unit TIMEOUT 60)
  # Envoy's own v3 protos (as @grpc/grpc-js-xds ships them) with
  # @bufbuild/protobuf's proto3 JSON parser check every example's export,
  # the fixtures, and configs rein refuses; the npm packages come from
  # tools/package.json (scripts/deps.sh check), and the test fails without
  # them.
  find_program(REIN_NODE node)
  if(REIN_NODE)
    add_test(NAME test_interop_envoy_validate
             COMMAND ${REIN_NODE}
                     ${CMAKE_CURRENT_SOURCE_DIR}/interop/envoy_validate.cjs
                     --rein $<TARGET_FILE:rein_cli>
                     --examples ${PROJECT_SOURCE_DIR}/examples/contracts
                     --fixtures ${CMAKE_CURRENT_SOURCE_DIR}/interop/fixtures/envoy
                     --work ${CMAKE_CURRENT_BINARY_DIR}/interop_envoy_validate)
    set_tests_properties(test_interop_envoy_validate PROPERTIES
                         LABELS "e2e" TIMEOUT 180
                         ENVIRONMENT "NODE_PATH=${PROJECT_SOURCE_DIR}/tools/node_modules")
    # @kubernetes-models/istio's VirtualService models (ajv validators
    # generated from Istio's CRD schemas) check every example's export and
    # the fixtures, and refuse what rein refuses.
    add_test(NAME test_interop_istio_validate
             COMMAND ${REIN_NODE}
                     ${CMAKE_CURRENT_SOURCE_DIR}/interop/istio_validate.mjs
                     --rein $<TARGET_FILE:rein_cli>
                     --examples ${PROJECT_SOURCE_DIR}/examples/contracts
                     --fixtures ${CMAKE_CURRENT_SOURCE_DIR}/interop/fixtures/istio
                     --work ${CMAKE_CURRENT_BINARY_DIR}/interop_istio_validate)
    set_tests_properties(test_interop_istio_validate PROPERTIES
                         LABELS "e2e" TIMEOUT 180
                         ENVIRONMENT "NODE_PATH=${PROJECT_SOURCE_DIR}/tools/node_modules")
    # @kubernetes-models/gateway-api's HTTPRoute and XBackendTrafficPolicy
    # models (ajv validators generated from the Gateway API experimental
    # CRDs) check every example's export and the fixtures, and refuse what
    # rein refuses.
    add_test(NAME test_interop_gateway_validate
             COMMAND ${REIN_NODE}
                     ${CMAKE_CURRENT_SOURCE_DIR}/interop/gateway_validate.mjs
                     --rein $<TARGET_FILE:rein_cli>
                     --examples ${PROJECT_SOURCE_DIR}/examples/contracts
                     --fixtures ${CMAKE_CURRENT_SOURCE_DIR}/interop/fixtures/gateway
                     --work ${CMAKE_CURRENT_BINARY_DIR}/interop_gateway_validate)
    set_tests_properties(test_interop_gateway_validate PROPERTIES
                         LABELS "e2e" TIMEOUT 180
                         ENVIRONMENT "NODE_PATH=${PROJECT_SOURCE_DIR}/tools/node_modules")
  else()
    message(WARNING "rein: node not found: test_interop_envoy_validate, "
                    "test_interop_istio_validate and "
                    "test_interop_gateway_validate not registered "
                    "(scripts/deps.sh check installs npm)")
  endif()
  add_executable(interop_grpc_driver interop/grpc_driver.c)
  target_link_libraries(interop_grpc_driver PRIVATE rein_contract rein_static)
  add_test(NAME test_interop_grpc_runtime
           COMMAND /usr/bin/python3
                   ${CMAKE_CURRENT_SOURCE_DIR}/interop/grpc_runtime.py
                   --rein $<TARGET_FILE:rein_cli>
                   --driver $<TARGET_FILE:interop_grpc_driver>
                   --fixtures ${CMAKE_CURRENT_SOURCE_DIR}/interop/runtime
                   --examples ${PROJECT_SOURCE_DIR}/examples/contracts
                   --work ${CMAKE_CURRENT_BINARY_DIR}/interop_runtime)
  set_tests_properties(test_interop_grpc_runtime PROPERTIES
                       LABELS "e2e" TIMEOUT 180)
  # grpc-js (tools/node_modules, with @grpc/grpc-js-xds) implements gRFC
  # A6 hedging, which C-core does not: the exported hedgingPolicy run for
  # real, attempts and status compared with rein_hedge on the same script.
  if(REIN_NODE)
    add_test(NAME test_interop_grpc_hedge
             COMMAND ${REIN_NODE}
                     ${CMAKE_CURRENT_SOURCE_DIR}/interop/grpc_hedge.cjs
                     --rein $<TARGET_FILE:rein_cli>
                     --driver $<TARGET_FILE:interop_grpc_driver>
                     --contracts ${CMAKE_CURRENT_SOURCE_DIR}/interop/runtime-hedge)
    set_tests_properties(test_interop_grpc_hedge PROPERTIES
                         LABELS "e2e" TIMEOUT 60
                         ENVIRONMENT "NODE_PATH=${PROJECT_SOURCE_DIR}/tools/node_modules")
  endif()
endif()
# libFuzzer over the importer and the round trip (clang + REIN_FUZZ): the
# sources are compiled into the target so libFuzzer sees their coverage.
if(TARGET rein_interop)
  file(GLOB interop_srcs ${PROJECT_SOURCE_DIR}/src/interop/*.c)
  # One source, one target per format (its own corpus,
  # tests/fuzz/corpus/interop_FORMAT/).
  foreach(_f grpc:json envoy:yaml istio:yaml gateway:yaml linkerd:yaml aws:ini
             sdk:yaml)
    string(REPLACE ":" ";" _fe ${_f})
    list(GET _fe 0 _fmt)
    list(GET _fe 1 _ext)
    rein_add_fuzzer(NAME fuzz_interop_${_fmt}
                    SOURCES interop/fuzz_interop.c ${interop_srcs}
                    LIBS rein_contract rein_static
                    INCLUDES ${PROJECT_SOURCE_DIR}/src/contract
                    DEFINES REIN_FUZZ_FORMAT="${_fmt}" REIN_FUZZ_EXT="${_ext}"
                    ARGS -max_len=8192 -timeout=5)
  endforeach()
endif()
# `rein check` and `rein simulate` over a mesh's own configs
# (examples/mesh: Envoy + gRPC + Istio files, rein contracts and a
# rein-overlay.yaml): findings at the configs' file:line:col, the fixed
# mesh clean, the simulated storm, bad input exit 2.
if(TARGET rein_cli)
  add_test(NAME test_interop_mesh
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/interop/mesh_cli.sh
                   $<TARGET_FILE:rein_cli> ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_interop_mesh PROPERTIES LABELS "e2e" TIMEOUT 120)
endif()
# SDK retry defaults (formats aws and sdk): the AWS shared config file and
# rein's sdk_clients YAML, checked against the constants the SDKs publish
# (AWS standard/legacy/adaptive, go-retryablehttp v0.7.8, google-api-core
# 2.29.0), round trips through `rein export aws`, detection and rein check.
if(TARGET rein_interop)
  rein_add_test(NAME test_interop_sdk SOURCES unit/test_interop_sdk.c interop/ix_test.c
                LIBS rein_interop LABELS unit TIMEOUT 120
                ARGS ${PROJECT_SOURCE_DIR}/examples/contracts
                     ${PROJECT_SOURCE_DIR}/tests/interop/fixtures/sdk
                     $<TARGET_FILE:rein_cli>)
endif()

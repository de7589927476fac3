# SPDX-License-Identifier: Apache-2.0
# libcurl integration: rein_curl_perform vs curl_easy_perform per call on
# loopback (see docs/bench-curl.md). The curl CLI --retry peer of the demo
# is the script bench/peers/curl_retry.sh.
if(TARGET rein_curl)
  pkg_check_modules(CURL_B_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  add_executable(bench_curl ${CMAKE_CURRENT_SOURCE_DIR}/bench_curl.c)
  target_link_libraries(bench_curl PRIVATE rein_curl PkgConfig::CURL_B_MHD)
  set_target_properties(bench_curl PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

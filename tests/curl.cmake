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
endif()

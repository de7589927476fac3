# SPDX-License-Identifier: Apache-2.0
# The nginx module (nginx/, docs/nginx.md): Debian's nginx loading
# ngx_http_rein_module in front of a fixed-capacity upstream of our own, on
# loopback, free ports, temp prefixes; asserted with curl and wrk
# (tests/nginx/nginx_e2e.sh has what each part shows). Registered when the
# module is built (REIN_WITH_NGINX) and nginx, curl and wrk are installed.
add_executable(fixed_upstream nginx/fixed_upstream.c)
target_link_libraries(fixed_upstream PRIVATE Threads::Threads)
find_program(REIN_WRK wrk)
find_program(REIN_CURL_BIN curl)
if(REIN_HAVE_NGINX AND REIN_NGINX_BIN AND REIN_WRK AND REIN_CURL_BIN)
  foreach(part config signals overload reload crash)
    add_test(NAME nginx_${part}
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nginx/nginx_e2e.sh
                     ${REIN_NGINX_BIN} ${REIN_NGINX_MODULE}
                     $<TARGET_FILE:fixed_upstream> ${part})
    set_tests_properties(nginx_${part} PROPERTIES LABELS e2e TIMEOUT 90)
  endforeach()
  # The rein libcurl client behind the module through an upstream stall.
  if(TARGET rein_curl)
    add_executable(rein_client_load nginx/rein_client_load.c)
    target_link_libraries(rein_client_load PRIVATE rein_curl)
    add_test(NAME nginx_outage
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nginx/nginx_e2e.sh
                     ${REIN_NGINX_BIN} ${REIN_NGINX_MODULE}
                     $<TARGET_FILE:fixed_upstream> outage
                     $<TARGET_FILE:rein_client_load>)
    # The same with the zone's dont_retry set explicitly to overloaded.
    add_test(NAME nginx_outage_overloaded
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nginx/nginx_e2e.sh
                     ${REIN_NGINX_BIN} ${REIN_NGINX_MODULE}
                     $<TARGET_FILE:fixed_upstream> outage
                     $<TARGET_FILE:rein_client_load>)
    set_tests_properties(nginx_outage_overloaded PROPERTIES
                         ENVIRONMENT DONT_RETRY=overloaded)
    set_tests_properties(nginx_outage nginx_outage_overloaded PROPERTIES
                         LABELS e2e TIMEOUT 90 RUN_SERIAL TRUE)
  endif()
  # rein export nginx: the snippet from a contract's server.admission.
  if(TARGET rein_cli)
    add_test(NAME nginx_export
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nginx/nginx_e2e.sh
                     ${REIN_NGINX_BIN} ${REIN_NGINX_MODULE}
                     $<TARGET_FILE:fixed_upstream> export
                     $<TARGET_FILE:rein_cli>)
    set_tests_properties(nginx_export PROPERTIES LABELS e2e TIMEOUT 90)
  endif()
  # rein demo --behind-nginx (~30 s: two short rounds).
  if(TARGET rein_cli AND TARGET rein-demo-load)
    add_test(NAME nginx_demo
             COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/nginx/nginx_e2e.sh
                     ${REIN_NGINX_BIN} ${REIN_NGINX_MODULE}
                     $<TARGET_FILE:fixed_upstream> demo
                     $<TARGET_FILE:rein_cli>)
    set_tests_properties(nginx_demo PROPERTIES LABELS e2e TIMEOUT 200
                         RUN_SERIAL TRUE)
  endif()
  # Throughput and latency claims: alone, so tests beside them cannot
  # distort the figures.
  set_tests_properties(nginx_overload nginx_reload nginx_crash
                       PROPERTIES RUN_SERIAL TRUE)
elseif(REIN_HAVE_NGINX)
  message(WARNING "nginx module tests not registered: need nginx, curl and "
    "wrk (scripts/deps.sh check)")
endif()

# SPDX-License-Identifier: Apache-2.0
# Outbox relay: commit-to-delivery latency and idle CPU of the LISTEN/NOTIFY
# relay (rein_outbox_wait) against polling relays on PostgreSQL (see the
# "Outbox relay: push vs poll" section of docs/benchmarks.md).
if(TARGET rein_inbox_pg)
  add_executable(bench_outbox_relay
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_outbox_relay.c)
  target_link_libraries(bench_outbox_relay PRIVATE rein_inbox_pg
                        PkgConfig::REIN_PG Threads::Threads)
  set_target_properties(bench_outbox_relay PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

# SPDX-License-Identifier: Apache-2.0
# Inbox: messages/s with exactly-once effects against the at-least-once
# baseline on SQLite and PostgreSQL (see docs/bench-inbox.md).
if(TARGET rein_inbox_sqlite AND TARGET rein_inbox_pg AND TARGET rein_broker_redis)
  add_executable(bench_inbox ${CMAKE_CURRENT_SOURCE_DIR}/bench_inbox.c)
  target_link_libraries(bench_inbox PRIVATE rein_inbox_sqlite rein_inbox_pg
                      rein_broker_redis)
  set_target_properties(bench_inbox PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

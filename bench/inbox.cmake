# SPDX-License-Identifier: Apache-2.0
# Inbox: messages/s with exactly-once effects against a hand-written
# at-least-once consumer on the same broker (Redis Streams, and NATS
# JetStream and RabbitMQ when their adapters are built), on SQLite and
# PostgreSQL (see docs/bench-inbox.md).
if(TARGET rein_inbox_sqlite AND TARGET rein_inbox_pg AND TARGET rein_broker_redis)
  add_executable(bench_inbox ${CMAKE_CURRENT_SOURCE_DIR}/bench_inbox.c)
  target_link_libraries(bench_inbox PRIVATE rein_inbox_sqlite rein_inbox_pg
                      rein_broker_redis)
  if(TARGET rein_broker_jetstream)
    target_link_libraries(bench_inbox PRIVATE rein_broker_jetstream
                          PkgConfig::REIN_NATS)
    target_compile_definitions(bench_inbox PRIVATE BENCH_HAVE_NATS)
  endif()
  if(TARGET rein_broker_amqp)
    target_link_libraries(bench_inbox PRIVATE rein_broker_amqp
                          PkgConfig::REIN_AMQP)
    target_compile_definitions(bench_inbox PRIVATE BENCH_HAVE_AMQP)
  endif()
  set_target_properties(bench_inbox PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endif()

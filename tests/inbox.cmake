# SPDX-License-Identifier: Apache-2.0
# Inbox/outbox: backend tests on real redis-server and PostgreSQL (from
# scripts/services.sh) plus SQLite, and the end-to-end crash test that
# SIGKILLs payments-consumer processes (examples/payments-consumer) while
# they charge examples/ledger, with and without the inbox.
if(TARGET rein_inbox_sqlite AND TARGET rein_inbox_pg AND TARGET rein_broker_redis
   AND TARGET rein_outbox_http)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_inbox.c)
    rein_add_test(NAME test_inbox
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_inbox.c
      LIBS rein_inbox_sqlite rein_inbox_pg rein_broker_redis rein_outbox_http
           PkgConfig::REIN_REDIS LABELS backend concurrency TIMEOUT 120)
  endif()
  if(TARGET payments-consumer AND TARGET ledger)
    rein_add_test(NAME test_exactly_once
      SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/e2e/test_exactly_once.c
              ${CMAKE_CURRENT_SOURCE_DIR}/e2e/ledger_proc.c
      LIBS rein_inbox ledger_auth PkgConfig::REIN_SQLITE PkgConfig::REIN_REDIS
           PkgConfig::REIN_CURL
      ARGS $<TARGET_FILE:payments-consumer> $<TARGET_FILE:ledger>
      LABELS e2e TIMEOUT 180)
    add_test(NAME test_exactly_once_no_inbox
      COMMAND test_exactly_once $<TARGET_FILE:payments-consumer>
              $<TARGET_FILE:ledger> --no-inbox --messages 2000
              --random-kills 10)
    set_tests_properties(test_exactly_once_no_inbox PROPERTIES
      LABELS e2e TIMEOUT 120)
    # The same crash test on NATS JetStream and on RabbitMQ (--broker), with
    # fewer messages and kills (about 5 s each here): the normal build only
    # (CI time). 3,000 messages, not fewer: the consumer that runs
    # throughout must leave work for the one killed at the named points
    # (with 1,000 it drained RabbitMQ first once in a few runs). The full
    # run (10,000 messages, 55 kills) is by hand; see docs/exactly-once.md.
    foreach(bk IN ITEMS jetstream amqp)
      if(bk STREQUAL "jetstream")
        set(_lib rein_broker_jetstream)
        set(_pc PkgConfig::REIN_NATS)
        set(_def EO_HAVE_NATS)
      else()
        set(_lib rein_broker_amqp)
        set(_pc PkgConfig::REIN_AMQP)
        set(_def EO_HAVE_AMQP)
      endif()
      if(TARGET ${_lib})
        target_link_libraries(test_exactly_once PRIVATE ${_pc})
        target_compile_definitions(test_exactly_once PRIVATE ${_def})
        add_test(NAME test_exactly_once_${bk}
          COMMAND test_exactly_once $<TARGET_FILE:payments-consumer>
                  $<TARGET_FILE:ledger> --broker ${bk} --messages 3000
                  --random-kills 12)
        add_test(NAME test_exactly_once_${bk}_no_inbox
          COMMAND test_exactly_once $<TARGET_FILE:payments-consumer>
                  $<TARGET_FILE:ledger> --broker ${bk} --no-inbox
                  --messages 3000 --random-kills 8)
        set_tests_properties(test_exactly_once_${bk}
          test_exactly_once_${bk}_no_inbox PROPERTIES
          LABELS "e2e;plain-only;timing" TIMEOUT 120)
      endif()
    endforeach()
  endif()
endif()
# The NATS JetStream adapter against a real nats-server (REIN_NATS_URL from
# scripts/services.sh): `ctest -R jetstream`.
if(TARGET rein_inbox_sqlite AND TARGET rein_broker_jetstream)
  rein_add_test(NAME test_inbox_jetstream
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_inbox_jetstream.c
    LIBS rein_inbox_sqlite rein_broker_jetstream PkgConfig::REIN_SQLITE
         PkgConfig::REIN_NATS
    LABELS backend TIMEOUT 120)
endif()

# The RabbitMQ adapter and outbox deliverer on a real rabbitmq-server
# (REIN_AMQP_URL from scripts/services.sh): `ctest -R amqp`.
if(TARGET rein_inbox_sqlite AND TARGET rein_broker_amqp)
  rein_add_test(NAME test_inbox_amqp
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_inbox_amqp.c
    LIBS rein_inbox_sqlite rein_broker_amqp PkgConfig::REIN_AMQP
         PkgConfig::REIN_SQLITE
    LABELS backend TIMEOUT 180)
  # A broker crash (SIGKILL of beam) and restart under two consumers, on a
  # private node the test starts, crashes and stops itself. ~20 s and a
  # measured reconnect time: the normal build only (plain-only keeps it out
  # of the sanitizer builds, timing out of the REIN_WITH_* switch builds).
  add_test(NAME test_inbox_amqp_restart
    COMMAND test_inbox_amqp --restart ${PROJECT_SOURCE_DIR}/scripts/services.sh)
  set_tests_properties(test_inbox_amqp_restart PROPERTIES
    LABELS "backend;plain-only;timing" TIMEOUT 150)
endif()

# The push-driven outbox relay (rein_outbox_wait): LISTEN/NOTIFY wake-ups on
# a real PostgreSQL, rollback silence, idle timeout, a terminated and a
# refused listener; SQLite's plain sleep.
if(TARGET rein_inbox_sqlite AND TARGET rein_inbox_pg)
  rein_add_test(NAME test_outbox_wait
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/backends/test_outbox_wait.c
    LIBS rein_inbox_sqlite rein_inbox_pg PkgConfig::REIN_PG
    LABELS backend TIMEOUT 120)
  target_include_directories(test_outbox_wait PRIVATE ${PROJECT_SOURCE_DIR}/src)
endif()

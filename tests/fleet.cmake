# Fleet (Redis-coordinated budget and breaker) tests. The unit test needs no
# server; the backend tests need REIN_REDIS_HOST/PORT (scripts/services.sh)
# and fail without them; test_fleet_failover also starts and kills its own
# redis-server on a free loopback port.
if(TARGET rein_fleet)
  rein_add_test(NAME test_fleet SOURCES unit/test_fleet.c
                LIBS rein_fleet LABELS unit TIMEOUT 60)
  rein_add_test(NAME test_fleet_redis
                SOURCES backends/test_fleet_redis.c backends/test_fleet_support.c
                LIBS rein_fleet LABELS backend concurrency TIMEOUT 120)
  rein_add_test(NAME test_fleet_breaker
                SOURCES backends/test_fleet_breaker.c backends/test_fleet_support.c
                LIBS rein_fleet LABELS backend concurrency TIMEOUT 120)
  rein_add_test(NAME test_fleet_failover
                SOURCES backends/test_fleet_failover.c backends/test_fleet_support.c
                LIBS rein_fleet LABELS backend TIMEOUT 120)
  rein_add_test(NAME test_fleet_load
                SOURCES backends/test_fleet_load.c backends/test_fleet_support.c
                LIBS rein_fleet LABELS backend TIMEOUT 180)
endif()

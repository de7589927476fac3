# Core unit tests: one executable per module.
foreach(m errors rng backoff budget breaker throttle metrics retry)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${m}.c)
    rein_add_test(NAME test_${m} SOURCES unit/test_${m}.c LABELS unit)
  endif()
endforeach()
rein_add_test(NAME test_concurrency SOURCES unit/test_concurrency.c
              LABELS unit concurrency)

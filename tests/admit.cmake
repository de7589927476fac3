# Admission control (src/server): unit tests with explicit time, and the
# concurrency test (also run under ThreadSanitizer via the label).
if(TARGET rein_admit)
  rein_add_test(NAME test_admit SOURCES unit/test_admit.c
                LIBS rein_admit LABELS unit TIMEOUT 60)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_concurrency.c)
    rein_add_test(NAME test_admit_concurrency
                  SOURCES unit/test_admit_concurrency.c
                  LIBS rein_admit LABELS unit concurrency TIMEOUT 120)
  endif()
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_admit_signal.c
     AND EXISTS ${PROJECT_SOURCE_DIR}/src/core/signal.c)
    rein_add_test(NAME test_admit_signal SOURCES unit/test_admit_signal.c
                  LIBS rein_admit LABELS unit TIMEOUT 60)
  endif()
endif()

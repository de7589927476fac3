# SPDX-License-Identifier: Apache-2.0
# Admission control benchmark: ns per admit/release pair, 1 and 2 threads.
if(TARGET rein_admit)
  add_executable(bench_admit bench_admit.c)
  target_link_libraries(bench_admit PRIVATE rein_admit Threads::Threads)
endif()

# SPDX-License-Identifier: Apache-2.0
# Core micro-benchmarks (bench/micro).
add_executable(bench_decision micro/bench_decision.c)
target_link_libraries(bench_decision PRIVATE rein_static)

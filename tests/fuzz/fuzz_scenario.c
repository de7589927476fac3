/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_scenario.c: libFuzzer target for the simulator's scenario loader.
 *
 * Any bytes must either load or be rejected with a message of the form
 * "file:line:col: field: ..." (or a YAML syntax message); never crash,
 * leak (ASan) or hang. A loaded scenario is also run for a short virtual
 * time with a small event cap, so the engine sees odd but valid inputs.
 *
 * The cap is what sets the speed: the run was 85% of each input at 20,000
 * events and 20,000 clients (355 execs/s in the ASan build). 1,000 events
 * and 1,000 clients reach every event type and each policy's first
 * decisions in about a hundred microseconds; long runs are test_sim's and
 * test_sim_scenarios' business. The memory budget is set too, so a loaded
 * scenario can never ask the fuzzer for more than 64 MiB.
 *
 * One variant runs per input, chosen by a hash of the input's bytes: the
 * first two in turn were twice the engine's work for one more policy mix,
 * and the rate went from ~5,500 to ~6,700 execs per CPU second. Every
 * variant is still reached (a mutation of any byte picks another), and a
 * given input always runs the same one, which coverage feedback needs. The
 * events cap stays at 1,000: at 400 the corpus no longer reaches server
 * queues growing past 256 or attempt timeouts firing (engine.c q_push,
 * the timeout handler).
 */
#include "rein/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  rein_status st = rein_sim_scenario_parse((const char *)data, size, "f.yaml",
                                           NULL, &eb, &s);
  if (st != REIN_OK) {
    if (s) abort();
    if (st != REIN_ENOMEM && strncmp(eb.msg, "f.yaml:", 7) != 0) abort();
    return 0;
  }
  if (rein_sim_scenario_clients(s) > 1000) {
    rein_sim_scenario_free(s);
    return 0;
  }
  rein_sim_run_config c;
  rein_sim_run_config_default(&c);
  c.max_events = 1000;
  c.max_memory = (uint64_t)64 << 20;
  c.duration_ns = 2 * REIN_NS_PER_S;
  /* One variant per input, chosen by the input's bytes (FNV-1a), so each
   * variant of a scenario is reachable and the same input always runs the
   * same one (what coverage feedback needs). */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
  rein_sim_result *r = NULL;
  c.variant = h % rein_sim_variant_count(s);
  if (rein_sim_run(s, &c, &r) == REIN_OK) rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_interop_gateway.c: libFuzzer target for the Gateway API
 * importer (rein/interop.h), and for the round trip behind it: whatever an
 * input imports to is written as a contract, which must load without a
 * load error, and exported again, whose text must import again. Any crash,
 * leak, sanitizer report or failed assertion (abort) is a bug.
 */
#include "rein/contract.h"
#include "rein/interop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  rein_interop *ix;
  if (rein_interop_new(NULL, &ix) != REIN_OK) return 0;
  rein_status st = rein_interop_import_buffer(ix, "gateway", "f.yaml",
                                              (const char *)data, size);
  char *yaml = NULL, *json = NULL;
  size_t yl = 0, jl = 0;
  if (st == REIN_OK && rein_interop_write_contract(ix, &yaml, &yl) == REIN_OK) {
    rein_contract_set *s;
    if (rein_contract_set_new(NULL, &s) == REIN_OK) {
      if (rein_contract_add_buffer(s, "f.yaml", yaml, yl) != REIN_OK) abort();
      rein_interop *ex;
      if (rein_interop_new(NULL, &ex) == REIN_OK) {
        if (rein_interop_export(ex, "gateway", s, NULL, &json, &jl) ==
            REIN_OK) {
          rein_interop *back;
          if (rein_interop_new(NULL, &back) == REIN_OK) {
            if (rein_interop_import_buffer(back, "gateway", "e.yaml", json,
                                           jl) == REIN_EPARSE)
              abort();
            rein_interop_free(back);
          }
        }
        rein_free(NULL, json);
        rein_interop_free(ex);
      }
      rein_contract_set_free(s);
    }
  }
  rein_free(NULL, yaml);
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  if (null) rein_interop_write_diags(ix, null);
  rein_interop_free(ix);
  return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_input.c: libFuzzer target for the small readers of outside text in
 * rein/input.h and rein/classify.h: the duration and size grammars (every
 * config file and command-line flag), the retryable list ("503, 5xx,
 * UNAVAILABLE, timeout"), the YAML depth pre-scan that runs before libyaml
 * sees a contract or a scenario, and the text escaper and UTF-8 scrubber
 * that stand between input bytes and a terminal or a JSON document.
 *
 * The input up to its first NUL is given to each, as the C string they
 * take; the whole input (NULs too) to the depth pre-scan, which takes a
 * length. Beyond "no crash, no UB, no leak" each header's contract is
 * checked: a parsed duration formats and parses back to itself, a size is
 * at most 2^62 bytes, a failed parse leaves its output untouched, a failed
 * retryable list says why, the depth pre-scan's position is inside the
 * text, the escaper's output is printable ASCII or UTF-8 with no control
 * byte, and the scrubber's output is valid UTF-8 of the length it returned.
 * A violation aborts (libFuzzer reports it as a crash).
 */
#include "rein/classify.h"
#include "rein/input.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_duration(const char *s) {
  int64_t ns = -7;
  rein_status st = rein_parse_duration(s, &ns);
  if (st != REIN_OK) {
    if (st != REIN_EPARSE && st != REIN_ERANGE) abort();
    if (ns != -7) abort();
    return;
  }
  if (ns < 0) abort();
  char buf[64];
  rein_format_duration(ns, buf, sizeof buf);
  int64_t back = -1;
  if (rein_parse_duration(buf, &back) != REIN_OK || back != ns) abort();
}

static void check_size(const char *s) {
  uint64_t b = 7;
  rein_status st = rein_parse_size(s, &b);
  if (st != REIN_OK) {
    if (st != REIN_EPARSE && st != REIN_ERANGE) abort();
    if (b != 7) abort();
    return;
  }
  if (b > (uint64_t)1 << 62) abort();
  char buf[64];
  rein_format_size(b, buf, sizeof buf);
  if (!memchr(buf, 0, sizeof buf)) abort();
}

static void check_retryable(const char *s) {
  rein_retryable_set set;
  rein_errbuf eb = {{0}};
  rein_status st = rein_retryable_set_parse(&set, s, &eb);
  if (st == REIN_OK) {
    (void)rein_retryable_set_kind_mask(&set);
    return;
  }
  if (st != REIN_EINVAL || !eb.msg[0]) abort();
}

static void check_depth(const uint8_t *data, size_t size) {
  size_t line = 0, col = 0;
  rein_status st =
      rein_yaml_check_depth((const char *)data, size, 8, &line, &col);
  if (st == REIN_OK) return;
  if (st != REIN_ETOOBIG) abort();
  size_t lines = 1;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  if (line < 1 || line > lines || col < 1 || col > size + 1) abort();
}

/* Escaped text has no C0 control, DEL or invalid UTF-8 left in it. */
static void check_escape(const char *s) {
  char small[16];
  size_t need = rein_text_escape(small, sizeof small, s);
  char *out = malloc(need + 1);
  if (!out) return;
  if (rein_text_escape(out, need + 1, s) != need || strlen(out) != need)
    abort();
  for (size_t i = 0; i < need; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c < 0x20 || c == 0x7f) abort();
  }
  if (rein_utf8_valid_len(out) != need) abort();
  if (strncmp(small, out, strlen(small)) != 0) abort();
  free(out);
}

static void check_scrub(const char *s) {
  size_t need = rein_utf8_scrub(NULL, 0, s);
  char *out = malloc(need + 1);
  if (!out) return;
  if (rein_utf8_scrub(out, need + 1, s) != need || strlen(out) != need)
    abort();
  if (rein_utf8_valid_len(out) != need) abort();
  /* valid input is copied as it is */
  if (rein_utf8_valid_len(s) == strlen(s) && strcmp(out, s) != 0) abort();
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  check_duration(s);
  check_size(s);
  check_retryable(s);
  check_escape(s);
  check_scrub(s);
  check_depth(data, size);
  free(s);
  return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errors.c: rein_strerror and rein_status_name, generated from the one
 * X-macro table in rein/errors.h so the enum, the names and the messages can
 * never disagree.
 */
#include "rein/errors.h"

const char *rein_strerror(rein_status s) {
  switch (s) {
#define REIN__MSG(name, value, msg)                                            \
  case name:                                                                   \
    return msg;
    REIN_STATUS_TABLE(REIN__MSG)
#undef REIN__MSG
  }
  return "unknown status";
}

const char *rein_status_name(rein_status s) {
  switch (s) {
#define REIN__NAME(name, value, msg)                                           \
  case name:                                                                   \
    return #name;
    REIN_STATUS_TABLE(REIN__NAME)
#undef REIN__NAME
  }
  return "REIN_UNKNOWN";
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * version.c: the runtime half of rein/version.h, so a program can tell the
 * library it linked from the headers it compiled against.
 */
#include "rein/version.h"

const char *rein_version(void) {
  return REIN_VERSION_STRING;
}

int rein_version_number(void) {
  return REIN_VERSION_NUMBER;
}

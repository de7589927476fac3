/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_db.h: the ledger's own durable table of charges (SQLite).
 *
 * One ledger_db is one SQLite connection: one thread at a time. The ledger
 * opens one per worker.
 */
#ifndef LEDGER_DB_H
#define LEDGER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger_json.h"

typedef struct ledger_db ledger_db;

typedef struct ledger_charge {
  int64_t id;
  char principal[256];
  char key[256]; /* "" when the charge was made without a key */
  bool has_key;
  char account[LEDGER_ACCOUNT_MAX + 1];
  int64_t amount_cents;
  char ref[LEDGER_REF_MAX + 1];
  bool has_ref;
  int64_t created_unix_ms;
  uint8_t fp[32];
  bool has_fp;
} ledger_charge;

typedef struct ledger_summary {
  int64_t charges;
  int64_t keyed;
  int64_t amount_cents;
  int64_t refs;              /* distinct (principal, ref) */
  int64_t duplicate_charges; /* charges beyond the first per (principal, ref) */
} ledger_summary;

/* Opens (creating the table if missing) with WAL, busy_timeout 10 s and
 * synchronous FULL or NORMAL. 0 on success; -1 with a message in err. */
int ledger_db_open(const char *path, bool sync_full, ledger_db **out, char *err,
                   size_t cap);
void ledger_db_close(ledger_db *db);

/* The SQLite connection, so the idempotency store can share it (same file,
 * same thread): one connection per worker instead of two means one page
 * cache that another worker's commit invalidates instead of two. */
struct sqlite3 *ledger_db_handle(ledger_db *db);

/*
 * Records a charge. With `key` (non-NULL) the row is unique per (principal,
 * key): when one exists nothing is inserted and *inserted is false; either
 * way *out is the row. Without a key a new row is always inserted.
 * 0 on success; -1 on a database error (message in err).
 */
int ledger_db_charge(ledger_db *db, const char *principal, const char *key,
                     const uint8_t fp[32], const ledger_charge_req *req,
                     int64_t now_unix_ms, ledger_charge *out, bool *inserted,
                     char *err, size_t cap);

/* Runs one SQL statement without results (BEGIN IMMEDIATE, COMMIT,
 * ROLLBACK). 0 or -1 with a message in err (err may be NULL). */
int ledger_db_exec(ledger_db *db, const char *sql, char *err, size_t cap);

/* Calls fn for each charge matching the filters (NULL = any), oldest first,
 * at most `limit`. 0 or -1. */
int ledger_db_list(ledger_db *db, const char *principal, const char *key,
                   const char *ref, int64_t after_id, int64_t limit,
                   void (*fn)(void *ctx, const ledger_charge *c), void *ctx,
                   char *err, size_t cap);

int ledger_db_summary(ledger_db *db, ledger_summary *out, char *err,
                      size_t cap);

#endif

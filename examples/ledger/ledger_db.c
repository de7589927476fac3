/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_db.c: the charges table, and why a replay can never double-charge.
 *
 * Two defences, so that exactly-once holds whatever the store backend:
 *
 * 1. With the SQLite store on the ledger's own file (the default), the
 *    store shares the worker's connection and ledger.c wraps the charge
 *    insert and the store's complete() in one BEGIN IMMEDIATE transaction:
 *    after a crash either both the charge and the stored response exist
 *    (the retry replays) or neither does (the retry charges).
 * 2. Always, a charge made under an idempotency key is a row unique on
 *    (principal, idem_key). With another store (memory, PostgreSQL,
 *    Redis) the charge and the stored response are two commits: if the
 *    process dies between them, the retry that takes over the expired
 *    lease runs the handler again, its INSERT ... ON CONFLICT DO NOTHING
 *    finds the row, and it answers with it, exactly what the first run
 *    would have answered (even the memory store, which forgets every key
 *    on a crash, cannot double-charge).
 *
 * An acknowledged charge is never lost: it is committed before the
 * response is sent. WAL with synchronous=NORMAL survives SIGKILL (the WAL
 * is in the OS page cache); FULL also survives power loss.
 */
#include "ledger_db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

struct ledger_db {
  sqlite3 *db;
  sqlite3_stmt *ins_keyed, *ins_plain, *get_keyed, *get_id;
};

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS ledger_charges("
                             " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                             " principal TEXT NOT NULL,"
                             " idem_key TEXT,"
                             " fingerprint BLOB,"
                             " account TEXT NOT NULL,"
                             " amount_cents INTEGER NOT NULL,"
                             " ref TEXT,"
                             " created_unix_ms INTEGER NOT NULL,"
                             " UNIQUE(principal, idem_key));"
                             "CREATE INDEX IF NOT EXISTS ledger_charges_ref"
                             " ON ledger_charges(principal, ref);";

#define COLS                                                                   \
  "id, principal, idem_key, fingerprint, account, amount_cents,"               \
  " ref, created_unix_ms"

static int dberr(ledger_db *db, const char *what, char *err, size_t cap) {
  if (cap)
    snprintf(err, cap, "ledger db: %s: %s (%d)", what, sqlite3_errmsg(db->db),
             sqlite3_extended_errcode(db->db));
  return -1;
}

struct sqlite3 *ledger_db_handle(ledger_db *db) {
  return db->db;
}

void ledger_db_close(ledger_db *db) {
  if (!db) return;
  sqlite3_finalize(db->ins_keyed);
  sqlite3_finalize(db->ins_plain);
  sqlite3_finalize(db->get_keyed);
  sqlite3_finalize(db->get_id);
  sqlite3_close(db->db);
  sqlite3_free(db);
}

int ledger_db_open(const char *path, bool sync_full, ledger_db **out, char *err,
                   size_t cap) {
  *out = NULL;
  ledger_db *db = sqlite3_malloc(sizeof *db);
  if (!db) {
    snprintf(err, cap, "ledger db: out of memory");
    return -1;
  }
  memset(db, 0, sizeof *db);
  int rc = sqlite3_open_v2(
      path, &db->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    if (cap)
      snprintf(err, cap, "ledger db: cannot open %s: %s", path,
               db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
    ledger_db_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db->db, 10000);
  char pragmas[128];
  snprintf(pragmas, sizeof pragmas,
           "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
           " PRAGMA mmap_size=268435456;",
           sync_full ? "FULL" : "NORMAL");
  if (sqlite3_exec(db->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(db->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
    dberr(db, "schema", err, cap);
    ledger_db_close(db);
    return -1;
  }
  struct {
    sqlite3_stmt **st;
    const char *sql;
  } stmts[] = {
      {&db->ins_keyed,
       "INSERT INTO ledger_charges(principal, idem_key, fingerprint, account,"
       " amount_cents, ref, created_unix_ms) VALUES(?,?,?,?,?,?,?)"
       " ON CONFLICT(principal, idem_key) DO NOTHING"},
      {&db->ins_plain,
       "INSERT INTO ledger_charges(principal, idem_key, fingerprint, account,"
       " amount_cents, ref, created_unix_ms) VALUES(?,NULL,NULL,?,?,?,?)"},
      {&db->get_keyed, "SELECT " COLS " FROM ledger_charges"
                       " WHERE principal = ? AND idem_key = ?"},
      {&db->get_id, "SELECT " COLS " FROM ledger_charges WHERE id = ?"},
  };
  for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
    if (sqlite3_prepare_v2(db->db, stmts[i].sql, -1, stmts[i].st, NULL) !=
        SQLITE_OK) {
      dberr(db, "prepare", err, cap);
      ledger_db_close(db);
      return -1;
    }
  }
  *out = db;
  return 0;
}

static void text(sqlite3_stmt *st, int col, char *out, size_t cap, bool *has) {
  const unsigned char *t = sqlite3_column_text(st, col);
  if (has) *has = t != NULL;
  snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static void row(sqlite3_stmt *st, ledger_charge *c) {
  memset(c, 0, sizeof *c);
  c->id = sqlite3_column_int64(st, 0);
  text(st, 1, c->principal, sizeof c->principal, NULL);
  text(st, 2, c->key, sizeof c->key, &c->has_key);
  if (sqlite3_column_bytes(st, 3) == 32) {
    memcpy(c->fp, sqlite3_column_blob(st, 3), 32);
    c->has_fp = true;
  }
  text(st, 4, c->account, sizeof c->account, NULL);
  c->amount_cents = sqlite3_column_int64(st, 5);
  text(st, 6, c->ref, sizeof c->ref, &c->has_ref);
  c->created_unix_ms = sqlite3_column_int64(st, 7);
}

/* Runs a one-row SELECT; 1 found, 0 not found, -1 error. */
static int one(ledger_db *db, sqlite3_stmt *st, ledger_charge *c, char *err,
               size_t cap) {
  int rc = sqlite3_step(st);
  int r = 0;
  if (rc == SQLITE_ROW) {
    row(st, c);
    r = 1;
  } else if (rc != SQLITE_DONE) {
    r = dberr(db, "select", err, cap);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

int ledger_db_charge(ledger_db *db, const char *principal, const char *key,
                     const uint8_t fp[32], const ledger_charge_req *req,
                     int64_t now_unix_ms, ledger_charge *out, bool *inserted,
                     char *err, size_t cap) {
  *inserted = false;
  sqlite3_stmt *st = key ? db->ins_keyed : db->ins_plain;
  int i = 1;
  sqlite3_bind_text(st, i++, principal, -1, SQLITE_STATIC);
  if (key) {
    sqlite3_bind_text(st, i++, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, i++, fp, 32, SQLITE_STATIC);
  }
  sqlite3_bind_text(st, i++, req->account, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, i++, req->amount_cents);
  if (req->has_ref)
    sqlite3_bind_text(st, i++, req->ref, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i++);
  sqlite3_bind_int64(st, i++, now_unix_ms);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_DONE) return dberr(db, "insert", err, cap);
  *inserted = sqlite3_changes(db->db) == 1;
  int64_t id = sqlite3_last_insert_rowid(db->db);
  int r;
  if (key) {
    sqlite3_bind_text(db->get_keyed, 1, principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(db->get_keyed, 2, key, -1, SQLITE_STATIC);
    r = one(db, db->get_keyed, out, err, cap);
  } else {
    sqlite3_bind_int64(db->get_id, 1, id);
    r = one(db, db->get_id, out, err, cap);
  }
  if (r == 0) {
    snprintf(err, cap, "ledger db: charge vanished after insert");
    return -1;
  }
  return r < 0 ? -1 : 0;
}

int ledger_db_exec(ledger_db *db, const char *sql, char *err, size_t cap) {
  if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) == SQLITE_OK) return 0;
  return err ? dberr(db, sql, err, cap) : -1;
}

int ledger_db_list(ledger_db *db, const char *principal, const char *key,
                   const char *ref, int64_t after_id, int64_t limit,
                   void (*fn)(void *ctx, const ledger_charge *c), void *ctx,
                   char *err, size_t cap) {
  sqlite3_stmt *st = NULL;
  const char *sql =
      "SELECT " COLS " FROM ledger_charges WHERE id > ?1"
      " AND (?2 IS NULL OR principal = ?2) AND (?3 IS NULL OR idem_key = ?3)"
      " AND (?4 IS NULL OR ref = ?4) ORDER BY id LIMIT ?5";
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
    return dberr(db, "prepare list", err, cap);
  sqlite3_bind_int64(st, 1, after_id);
  if (principal) sqlite3_bind_text(st, 2, principal, -1, SQLITE_STATIC);
  if (key) sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
  if (ref) sqlite3_bind_text(st, 4, ref, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, limit);
  int rc;
  ledger_charge c;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    row(st, &c);
    fn(ctx, &c);
  }
  int r = rc == SQLITE_DONE ? 0 : dberr(db, "list", err, cap);
  sqlite3_finalize(st);
  return r;
}

int ledger_db_summary(ledger_db *db, ledger_summary *out, char *err,
                      size_t cap) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = NULL;
  const char *sql =
      "SELECT (SELECT count(*) FROM ledger_charges),"
      " (SELECT count(*) FROM ledger_charges WHERE idem_key IS NOT NULL),"
      " (SELECT coalesce(sum(amount_cents), 0) FROM ledger_charges),"
      " (SELECT count(*) FROM (SELECT 1 FROM ledger_charges"
      "   WHERE ref IS NOT NULL GROUP BY principal, ref)),"
      " (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM"
      "   ledger_charges WHERE ref IS NOT NULL GROUP BY principal, ref))";
  if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
    return dberr(db, "prepare summary", err, cap);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->charges = sqlite3_column_int64(st, 0);
    out->keyed = sqlite3_column_int64(st, 1);
    out->amount_cents = sqlite3_column_int64(st, 2);
    out->refs = sqlite3_column_int64(st, 3);
    out->duplicate_charges = sqlite3_column_int64(st, 4);
  }
  int r = rc == SQLITE_ROW ? 0 : dberr(db, "summary", err, cap);
  sqlite3_finalize(st);
  return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_idem_model.c: random operation sequences checked against a reference
 * model of the idempotency store, on the memory and SQLite backends.
 *
 * The model below is written from the contract in rein/idem.h, not from
 * the implementation: a record per (principal, key) with its state, fence,
 * holder nonce, retention end and lease end. Each step picks begin,
 * checkpoint, complete (cacheable or not), abandon with a current or an old
 * token, a clock jump, or a purge, and every outcome, fence, phase,
 * retry-after, expiry and replayed body must match the model exactly (the
 * clock is manual, so the comparison is exact). The seed is printed; set
 * REIN_TEST_SEED to replay a failure.
 */
#include "rein_test.h"

#include "rein/idem.h"
#include "rein/rng.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NKEYS 3
#define NPRIN 2
#define LEASE (10 * REIN_NS_PER_S)
#define RETAIN (100 * REIN_NS_PER_S)

enum { ABSENT = 0, LEASED = 1, RELEASED = 2, COMPLETED = 3 };

typedef struct mrec {
  int state;
  int payload; /* fingerprint index */
  uint64_t fence, nonce;
  int64_t expires, lease_until;
  char phase[32];
  int status;
  char body[32];
} mrec;

typedef struct model {
  mrec r[NPRIN][NKEYS];
  rein_idem_token old[64]; /* tokens handed out, for stale use */
  int nold;
} model;

static const char *prin[NPRIN] = {"alice", "bob"};
static const char *keys[NKEYS] = {"k0", "k1", "k2"};

static bool m_expired(const mrec *m, int64_t now) {
  if (m->state == ABSENT) return true;
  if (now < m->expires) return false;
  return !(m->state == LEASED && m->lease_until > now);
}

static void fp_for(int payload, uint8_t fp[32]) {
  char p[16];
  snprintf(p, sizeof p, "payload-%d", payload);
  rein_idem_fingerprint(p, strlen(p), fp);
}

/* Which record does this token belong to, and is it the holder? */
static mrec *holder(model *m, rein_idem_store *s, const rein_idem_token *t) {
  (void)s;
  for (int p = 0; p < NPRIN; p++)
    for (int k = 0; k < NKEYS; k++) {
      mrec *r = &m->r[p][k];
      if (r->state == LEASED && r->fence == t->fence && r->nonce == t->nonce)
        return r;
    }
  return NULL;
}

static void run(rein_idem_store *s, rein_manual_clock *clk, uint64_t seed,
                int steps) {
  model m;
  memset(&m, 0, sizeof m);
  rein_rng rng;
  rein_rng_seed(&rng, seed);
  for (int step = 0; step < steps; step++) {
    int64_t now = rein_manual_clock_get(clk);
    int op = (int)rein_rng_range(&rng, 0, 9);
    int p = (int)rein_rng_range(&rng, 0, NPRIN - 1);
    int k = (int)rein_rng_range(&rng, 0, NKEYS - 1);
    mrec *r = &m.r[p][k];
    rein_idem_scope sc = {prin[p], "POST /x"};
    if (op <= 3) { /* begin */
      int payload = (int)rein_rng_range(&rng, 0, 2);
      uint8_t fp[32];
      fp_for(payload, fp);
      rein_idem_result res;
      rein_status st =
          rein_idem_begin(s, &sc, keys[k], fp, LEASE, RETAIN, &res);
      if (st != REIN_OK)
        fail_msg("step %d: begin: %s %s", step, rein_status_name(st),
                 rein_idem_store_errmsg(s));
      rein_idem_outcome want;
      bool recovered = false;
      if (m_expired(r, now)) {
        want = REIN_IDEM_NEW;
        r->fence = r->state == ABSENT ? 1 : r->fence + 1;
        r->expires = now + RETAIN;
        r->phase[0] = '\0';
      } else if (r->state == RELEASED) {
        want = REIN_IDEM_NEW;
        r->fence++;
        r->phase[0] = '\0';
      } else if (r->payload != payload) {
        want = REIN_IDEM_MISMATCH;
      } else if (r->state == COMPLETED) {
        want = REIN_IDEM_REPLAY;
      } else if (r->lease_until > now) {
        want = REIN_IDEM_IN_PROGRESS;
      } else {
        want = REIN_IDEM_NEW;
        recovered = true;
        r->fence++;
      }
      if (res.outcome != want)
        fail_msg("step %d (seed %llu): begin %s/%s: got %s want %s", step,
                 (unsigned long long)seed, prin[p], keys[k],
                 rein_idem_outcome_name(res.outcome),
                 rein_idem_outcome_name(want));
      if (want == REIN_IDEM_NEW) {
        assert_int_equal(res.token.fence, r->fence);
        assert_int_equal(res.recovered, recovered);
        assert_string_equal(res.phase, recovered ? r->phase : "");
        assert_int_equal(res.expires_in_ns, r->expires - now);
        r->state = LEASED;
        r->payload = payload;
        r->nonce = res.token.nonce;
        r->lease_until = now + LEASE;
        r->status = 0;
        if (m.nold < 64)
          m.old[m.nold++] = res.token;
        else
          m.old[rein_rng_range(&rng, 0, 63)] = res.token;
      } else if (want == REIN_IDEM_REPLAY) {
        assert_int_equal(res.response.status, r->status);
        assert_int_equal(res.response.body_len, strlen(r->body));
        assert_memory_equal(res.response.body, r->body, strlen(r->body));
        assert_int_equal(res.expires_in_ns, r->expires - now);
      } else if (want == REIN_IDEM_IN_PROGRESS) {
        assert_int_equal(res.retry_after_ns, r->lease_until - now);
        assert_int_equal(res.expires_in_ns,
                         r->expires > now ? r->expires - now : 0);
      }
      rein_idem_result_clear(&res);
    } else if (op <= 6 && m.nold > 0) { /* checkpoint / complete / abandon */
      rein_idem_token t = m.old[rein_rng_range(&rng, 0, m.nold - 1)];
      if (rein_rng_range(&rng, 0, 3) == 0) t.nonce ^= 1; /* forged */
      mrec *h = holder(&m, s, &t);
      rein_status st;
      if (op == 4) {
        char phase[32];
        snprintf(phase, sizeof phase, "ph-%d", step);
        bool ext = rein_rng_range(&rng, 0, 1);
        st = rein_idem_checkpoint(s, &t, phase, ext ? LEASE : 0);
        if (h) {
          snprintf(h->phase, sizeof h->phase, "%s", phase);
          if (ext) h->lease_until = now + LEASE;
        }
      } else if (op == 5) {
        static const int statuses[] = {200, 201, 404, 409, 429, 500, 503};
        int status = statuses[rein_rng_range(&rng, 0, 6)];
        char body[32];
        snprintf(body, sizeof body, "b%d", step);
        rein_idem_response resp = {status, NULL, 0, body, strlen(body)};
        bool stored;
        st = rein_idem_complete(s, &t, &resp, &stored);
        if (h) {
          bool keep = rein_idem_cacheable_default(NULL, status);
          assert_int_equal(stored, keep);
          h->state = keep ? COMPLETED : RELEASED;
          if (keep) {
            h->status = status;
            snprintf(h->body, sizeof h->body, "%s", body);
          } else {
            h->phase[0] = '\0';
          }
        }
      } else {
        st = rein_idem_abandon(s, &t);
        if (h) {
          h->state = RELEASED;
          h->phase[0] = '\0';
        }
      }
      if (st != (h ? REIN_OK : REIN_ESTALE))
        fail_msg("step %d (seed %llu): op %d: got %s want %s", step,
                 (unsigned long long)seed, op, rein_status_name(st),
                 h ? "REIN_OK" : "REIN_ESTALE");
    } else if (op <= 8) { /* the clock moves */
      static const int64_t jumps[] = {0,         1,          LEASE / 2, LEASE,
                                      LEASE + 1, RETAIN / 2, RETAIN};
      rein_manual_clock_advance(clk, jumps[rein_rng_range(&rng, 0, 6)]);
    } else { /* purge everything that is due */
      size_t n, want = 0;
      for (int pp = 0; pp < NPRIN; pp++)
        for (int kk = 0; kk < NKEYS; kk++) {
          mrec *x = &m.r[pp][kk];
          if (x->state != ABSENT && m_expired(x, now)) {
            memset(x, 0, sizeof *x);
            want++;
          }
        }
      assert_int_equal(rein_idem_purge(s, 1000, &n), REIN_OK);
      if (n != want)
        fail_msg("step %d (seed %llu): purge %zu want %zu", step,
                 (unsigned long long)seed, n, want);
    }
  }
}

static void run_backend(bool sqlite) {
  uint64_t seed0 = rein_test_seed();
  for (uint64_t i = 0; i < 4; i++) {
    rein_manual_clock clk;
    rein_manual_clock_init(&clk, INT64_C(1000) * REIN_NS_PER_S);
    rein_idem_config c;
    rein_idem_config_default(&c);
    c.clock = rein_manual_clock_as_clock(&clk);
    rein_idem_store *s;
    char path[128];
    snprintf(path, sizeof path, "/tmp/rein-idem-model-%d.db", (int)getpid());
    if (sqlite) {
      rein_idem_sqlite_config sc;
      rein_idem_sqlite_config_default(&sc);
      sc.path = path;
      sc.synchronous_full = false;
      assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_OK);
    } else {
      assert_int_equal(rein_idem_mem_new(&c, &s), REIN_OK);
    }
    run(s, &clk, seed0 + i, sqlite ? 600 : 3000);
    rein_idem_store_free(s);
    if (sqlite) {
      char x[160];
      unlink(path);
      snprintf(x, sizeof x, "%s-wal", path);
      unlink(x);
      snprintf(x, sizeof x, "%s-shm", path);
      unlink(x);
    }
  }
}

static void test_model_memory(void **state) {
  (void)state;
  run_backend(false);
}

static void test_model_sqlite(void **state) {
  (void)state;
  run_backend(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_memory),
      cmocka_unit_test(test_model_sqlite),
  };
  return cmocka_run_group_tests_name("idem_model", tests, NULL, NULL);
}

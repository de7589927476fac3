/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c: the rule catalogue (ids, severities, --explain text) and the
 * three writers of diagnostics: compiler-style text, JSON, and SARIF 2.1.0
 * for code-scanning UIs.
 *
 * The catalogue is one static table so the severity a rule reports, the
 * text `rein check --explain` prints and the SARIF rule descriptors can never
 * disagree. Writers only read the set. JSON and SARIF are built with
 * jansson, one diagnostic at a time (rein/json.h), so every string is
 * escaped and every document is UTF-8 whatever bytes a file name holds.
 */
#include "contract_internal.h"
#include "rein/input.h"
#include "rein/json.h"

#include "rein/version.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const rein_contract_rule_info rules[REIN_CONTRACT_RULE_COUNT] = {
    {"R001", "key-ttl-shorter-than-retry-window", REIN_CONTRACT_ERROR,
     "idempotency-key TTL shorter than a caller's retry window (through "
     "pass-through and derived keys)",
     "An operation that deduplicates by idempotency key remembers each key "
     "for key_ttl. A caller that retries for longer than that (including "
     "scheduled replays such as a nightly or monthly job) sends a retry the "
     "server no longer recognises: it runs again, e.g. a second charge. Keys "
     "that are passed through or derived across services (merchant -> "
     "processor -> card network) carry the upstream windows with them: the "
     "callee must remember the key for the sum of the windows along the "
     "chain.\n\n"
     "Example: billing retries processor.authorize for 72h (key: originate); "
     "processor forwards the key to card-network.charge (key: pass-through, "
     "window 30s); charge keeps keys for 24h -> R001 at charge's key_ttl.\n\n"
     "Fix: raise key_ttl to at least the required window (`rein ttl` prints "
     "it per operation), or shorten the longest retry window in the chain."},
    {"R002", "non-idempotent-retry", REIN_CONTRACT_ERROR,
     "a non-idempotent operation is retried without a key",
     "A retry after a timeout or a 5xx may repeat an effect that already "
     "happened. Retrying is safe only when the operation is naturally "
     "idempotent, when the request carries an idempotency key the callee "
     "deduplicates on, or when the failure provably happened before the "
     "request was sent (connect-refused, dns).\n\n"
     "Example: orders calls payments.refund (idempotency: none) with "
     "retry.attempts: 3 -> R002 at attempts.\n\n"
     "Fix: give the operation idempotency: key and send the key (key: "
     "originate or pass-through), or retry only on [connect-refused], or set "
     "attempts: 1."},
    {"R003", "backoff-without-jitter", REIN_CONTRACT_ERROR,
     "exponential or constant backoff without jitter in a fleet",
     "Without jitter every instance that failed at the same moment retries "
     "at the same moments: a dependency that just recovered receives "
     "synchronized waves (the calls in flight when it failed: instances x "
     "rate x attempt timeout) and can be knocked over again. The finding "
     "says how large the wave is and when it lands.\n\n"
     "Example: 400 ingestion workers, 5/s each, 1s timeout, exponential "
     "backoff 1s..30s, jitter: none -> 2,000 calls land together at +1s, "
     "+3s, +7s.\n\n"
     "Fix: jitter: full (or equal, or decorrelated)."},
    {"R004", "retry-amplification", REIN_CONTRACT_ERROR,
     "retry amplification along a call path over the threshold",
     "Retries at several layers multiply: 3 layers of 4 attempts send 64 "
     "attempts to the bottom for one request, exactly when it is failing. "
     "The product of attempts along the worst path into each service is "
     "compared with the threshold (--max-amplification, default 10); the "
     "finding points at every retrying layer.\n\n"
     "Example: api -> orders -> inventory -> db with attempts 4, 4, 4 -> "
     "R004: 4 x 4 x 4 = 64.\n\n"
     "Fix: retry at one layer (usually the edge), set attempts: 1 in the "
     "inner layers and have them return don't-retry (Rein-Dont-Retry) so "
     "the outer layer does not multiply their give-ups."},
    {"R005", "fleet-retry-load-over-capacity", REIN_CONTRACT_ERROR,
     "fleet retry load can exceed the callee's capacity",
     "When a service fails, every caller instance retries. The load it then "
     "receives is the sum over callers of instances x rate x attempts "
     "(without budgets), or instances x rate x (1 + budget ratio) plus the "
     "budget floor (min_per_sec, once per instance for scope: instance, "
     "once for scope: fleet). If that exceeds capacity, retries alone keep "
     "it overloaded after the trigger is gone (a metastable failure).\n\n"
     "Example: 400 workers x 5/s x 5 attempts = 10,000/s against a schema "
     "registry with capacity 3,000/s.\n\n"
     "Fix: give callers retry budgets (budget: {kind: ratio, ratio: 0.1, "
     "scope: fleet}), or raise capacity."},
    {"R006", "schedule-exceeds-deadline", REIN_CONTRACT_ERROR,
     "the retry schedule cannot fit in the caller's deadline",
     "The worst-case schedule (every attempt times out, every backoff at its "
     "ceiling) is longer than the call's deadline, so the later attempts "
     "can never run: the configured attempts are a promise the runtime will "
     "not keep, and the caller's caller times out first.\n\n"
     "Example: 3 attempts x 2s timeout + 1.5s backoff = 7.5s against a "
     "deadline of 5s -> only 2 attempts fit.\n\n"
     "Fix: lower attempts or the per-attempt timeout, or raise the "
     "deadline; the finding prints values that fit."},
    {"R007", "retrying-non-retryable", REIN_CONTRACT_ERROR,
     "retrying outcomes that are not retryable",
     "A definitive answer (400, 401, 403, 404, 409, 422, any 4xx but 408, "
     "425 and 429) will be the same on every retry; retrying it only adds "
     "load. Outcomes the callee does not declare in `retryable` are not "
     "safe to retry by its contract.\n\n"
     "Example: retry.when: [503, 409] -> R007 at 409.\n\n"
     "Fix: remove the outcome from retry.when, or agree with the callee that "
     "it is retryable."},
    {"R008", "retry-ratio-above-tolerance", REIN_CONTRACT_ERROR,
     "caller's retry ratio above what the callee tolerates",
     "A callee states in max_retry_ratio how many retries per request it "
     "can absorb. The caller's ratio is its budget's ratio (token_ratio for "
     "a token bucket, success_increment / retry_cost for a quota), or "
     "attempts - 1 when it has no budget.\n\n"
     "Example: callee max_retry_ratio: 0.1, caller attempts: 3 and no "
     "budget -> ratio 2 -> R008.\n\n"
     "Fix: add budget: {kind: ratio, ratio: 0.1} or lower, or renegotiate "
     "the callee's tolerance."},
    {"R009", "pinned-version-differs", REIN_CONTRACT_WARNING,
     "caller pinned a contract version that differs from the callee's "
     "current one",
     "pin_version records the callee contract a caller was written and "
     "checked against. When the callee publishes a new version (e.g. a "
     "shorter key TTL), the caller's assumptions may no longer hold. When "
     "the pinned version is among the checked files, the finding lists what "
     "changed in the called operation.\n\n"
     "Example: processor pins card-network 2024-01-15; current 2024-06-01 "
     "changed charge.key_ttl 7d -> 24h.\n\n"
     "Fix: review the changes and update pin_version."},
    {"R010", "attempt-timeout-not-below-callee", REIN_CONTRACT_WARNING,
     "per-attempt timeout at or above the callee's own timeout",
     "If a caller waits as long as (or longer than) the callee works on a "
     "request, the callee can still be working on an attempt the caller "
     "already abandoned and retried: wasted work that doubles with every "
     "retry, exactly under overload.\n\n"
     "Example: caller timeout 5s, ledger.charge timeout 5s -> R010.\n\n"
     "Fix: keep the caller's per-attempt timeout below the callee's (e.g. "
     "80%), or lower the callee's timeout."},
    {"R011", "hedging-unsafe", REIN_CONTRACT_ERROR,
     "hedged requests past the callee's capacity, or on a non-idempotent "
     "operation",
     "A hedge is sent when the first attempt has not answered after the "
     "hedging delay. When the callee slows down past that delay, every call "
     "is hedged: the load multiplies by the hedge's attempts exactly when "
     "the callee can least take it (a budget bounds hedges as it bounds "
     "retries). A hedge is also a second execution while the first may "
     "still run, so an operation that is not idempotent must not be hedged, "
     "and one that deduplicates by key only with the key.\n\n"
     "Example: 4 instances x 100/s hedged up to 3 attempts = 1.2k/s against "
     "a capacity of 500/s -> R011.\n\n"
     "Fix: a retry budget shared by the fleet (it pays for hedges), fewer "
     "hedge attempts, or more capacity; for non-idempotent operations, no "
     "hedge, or idempotency: key and key: originate."},
    {"R012", "shed-signals-ignored", REIN_CONTRACT_WARNING,
     "caller retries a shedding callee without honouring its signals",
     "A callee with a `server.admission` block sheds load at a proxy (the "
     "nginx module, rein export nginx) and says when to come back: every "
     "shed answer carries Retry-After (the time its queue takes to drain), "
     "and, unless dont_retry is never, Rein-Dont-Retry on the answers it "
     "does not want retried (shed retries; with the proxy default "
     "`overloaded`, every answer shed while overloaded). A caller that "
     "retries the shed status but does not list retry-after (and "
     "dont-retry) in retry.signals comes back on its own backoff, into the "
     "overload the proxy is shedding, and retries what it was told not to: "
     "its retries multiply the load exactly when the callee cannot take "
     "it, bounded only by its budget.\n\n"
     "Example: ledger sheds with 503; client retries 503 with signals: "
     "[pushback] -> R012 (Retry-After and Rein-Dont-Retry ignored).\n\n"
     "Fix: add retry-after and dont-retry to the call's retry.signals (and "
     "ratelimit for a rate-limited callee), or stop retrying the shed "
     "status."},
    {"R013", "broker-dedup-window", REIN_CONTRACT_ERROR,
     "re-publishes a broker cannot deduplicate, or a consumer without an "
     "inbox on an at-least-once broker",
     "A call with a `broker:` block publishes through a message broker, and "
     "its retries re-publish the same message. NATS JetStream drops a "
     "re-publish with the same Nats-Msg-Id only within the stream's "
     "duplicate_window (2m unless set); Kafka's idempotent producer "
     "deduplicates only its own resends within one producer session, so a "
     "re-publish by the caller (or after a restart) is a new record, and "
     "without it nothing is deduplicated; RabbitMQ and Redis Streams do not "
     "deduplicate at all. A retry window (attempts x timeout + backoff, or "
     "retry.window, as R001 computes it) longer than what the broker "
     "remembers publishes duplicates the broker delivers, unless the "
     "consuming operation absorbs them (inbox: true, idempotency: natural, "
     "or a key it receives). On the consumer side, every one of these "
     "brokers delivers at least once: an operation whose broker block says "
     "inbox: false and that is not declared idempotent runs again on every "
     "redelivery.\n\n"
     "Example: outbox-relay retries a jetstream publish for 5m against a "
     "2m duplicate_window -> R013.\n\n"
     "Fix: raise duplicate_window to cover the retry window, bound the "
     "retries (retry.window), or give the consumer an inbox that "
     "deduplicates by a message id set once per message (rein/inbox.h)."},
};

static const rein_contract_rule_info input_rules[] = {
    {"E001", "malformed-yaml", REIN_CONTRACT_ERROR, "malformed YAML",
     "The file is not well-formed YAML (an unclosed quote or bracket, a tab "
     "used for indentation, a key without a value, nesting past the "
     "loader's depth limit), so nothing in it was checked.\n\n"
     "Example: `retry: {attempts: 3` (the flow mapping is never closed) -> "
     "E001 at the end of the file.\n\n"
     "Fix: correct the YAML at the position given; a YAML linter shows the "
     "same place."},
    {"E002", "wrong-type", REIN_CONTRACT_ERROR, "a field has the wrong type",
     "A field holds a value of the wrong kind: a mapping where a scalar is "
     "expected, a list where a mapping is expected, a string where a number "
     "is expected.\n\n"
     "Example: `retry: 3` (retry is a mapping) -> E002 at retry.\n\n"
     "Fix: write the field in the form docs/contracts.md gives for it."},
    {"E003", "unknown-field", REIN_CONTRACT_ERROR, "unknown field",
     "A field that the contract language does not have. rein refuses "
     "unknown fields rather than ignoring them, because a misspelt field "
     "(attemps) would otherwise silently fall back to its default.\n\n"
     "Example: `retry: {attemps: 3}` -> E003, did you mean 'attempts'?\n\n"
     "Fix: use the suggested name, or remove the field."},
    {"E004", "invalid-value", REIN_CONTRACT_ERROR, "invalid value",
     "A field has a value of the right kind that is out of range or not one "
     "of the allowed words: a negative duration, a ratio above 1, a "
     "duration without a unit, an unknown backoff kind.\n\n"
     "Example: `retry: {budget: {ratio: 1.5}}` -> E004, must be in (0, 1].\n\n"
     "Fix: use a value within the bounds the message gives."},
    {"E005", "missing-field", REIN_CONTRACT_ERROR, "missing field",
     "A field the contract needs is absent, so the contract cannot say what "
     "it must (a service without a name, a call without the operation it "
     "calls).\n\n"
     "Example: a calls entry with `service: payments` and no `operation` -> "
     "E005 at that entry.\n\n"
     "Fix: add the field named in the message."},
    {"E006", "duplicate", REIN_CONTRACT_ERROR,
     "duplicate field, operation or contract",
     "The same field appears twice in one mapping, the same operation twice "
     "in one service, or two files declare the same service. YAML parsers "
     "differ on which duplicate wins, so rein accepts neither.\n\n"
     "Example: two files with `service: payments` -> E006 at the second, "
     "with the first as a related location.\n\n"
     "Fix: keep one and remove or rename the other."},
    {"E007", "unresolved-reference", REIN_CONTRACT_ERROR,
     "call to an unknown service or operation",
     "A call names a service or an operation that no contract in the "
     "checked set declares, so the retry windows, keys and amplification "
     "along that path cannot be checked.\n\n"
     "Example: orders calls payments.refnd while payments declares refund "
     "-> E007, did you mean 'refund'?\n\n"
     "Fix: correct the name, or add the callee's contract to the checked "
     "directory."},
    {"E008", "unreadable-file", REIN_CONTRACT_ERROR, "file cannot be read",
     "A contract file could not be read: it does not exist, is not a "
     "regular file (a directory, a FIFO, a device), is larger than the "
     "loader's limit, or cannot be opened.\n\n"
     "Example: `rein check missing.yaml` -> E008, no such file.\n\n"
     "Fix: check the path and the file's permissions and size."},
};

const rein_contract_rule_info *rein_contract_rule_n(int n) {
  if (n < 1 || n > REIN_CONTRACT_RULE_COUNT) return NULL;
  return &rules[n - 1];
}

const rein_contract_rule_info *rein_contract_rule(const char *id) {
  if (!id) return NULL;
  for (int i = 0; i < REIN_CONTRACT_RULE_COUNT; i++)
    if (strcasecmp(id, rules[i].id) == 0) return &rules[i];
  for (size_t i = 0; i < sizeof input_rules / sizeof *input_rules; i++)
    if (strcasecmp(id, input_rules[i].id) == 0) return &input_rules[i];
  return NULL;
}

const char *rein_contract_severity_name(rein_contract_severity s) {
  switch (s) {
  case REIN_CONTRACT_ERROR:
    return "error";
  case REIN_CONTRACT_WARNING:
    return "warning";
  case REIN_CONTRACT_NOTE:
    return "note";
  }
  return "unknown";
}

const char *rein_contract_key_name(rein_contract_key k) {
  static const char *const n[] = {"none", "originate", "pass-through",
                                  "derive"};
  return (unsigned)k < 4 ? n[k] : "unknown";
}

const char *rein_contract_scope_name(rein_contract_scope s) {
  return s == REIN_CONTRACT_SCOPE_FLEET ? "fleet" : "instance";
}

rein_status rein_contract_format_parse(const char *s,
                                       rein_contract_format *out) {
  if (!s || !out) return REIN_EINVAL;
  if (strcmp(s, "text") == 0)
    *out = REIN_CONTRACT_FORMAT_TEXT;
  else if (strcmp(s, "json") == 0)
    *out = REIN_CONTRACT_FORMAT_JSON;
  else if (strcmp(s, "sarif") == 0)
    *out = REIN_CONTRACT_FORMAT_SARIF;
  else
    return REIN_EINVAL;
  return REIN_OK;
}

/* ---------------------------------------------------------------- JSON */

/* Text goes to terminals: every string that can hold input (file names,
 * quoted values, names) is escaped (rein/input.h). */
static void write_text(const rein_contract_set *s, FILE *f) {
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    const rein_contract_diag *d = rein_contract_diag_at(s, i);
    rein_text_fputs(d->loc.file, f);
    fprintf(f, ":%u:%u: %s[%s]: ", d->loc.line, d->loc.col,
            rein_contract_severity_name(d->severity), d->rule);
    rein_text_fputs(d->message, f);
    fputc('\n', f);
    if (d->fix && *d->fix) {
      fputs("  fix: ", f);
      rein_text_fputs(d->fix, f);
      fputc('\n', f);
    }
    for (size_t k = 0; k < d->nrelated; k++) {
      fputs("  note: ", f);
      rein_text_fputs(d->related[k].loc.file, f);
      fprintf(f, ":%u:%u: ", d->related[k].loc.line, d->related[k].loc.col);
      rein_text_fputs(d->related[k].message, f);
      fputc('\n', f);
    }
  }
}

/* The JSON and SARIF writers stream: the document's frame (constant ASCII)
 * is written as it is, and each diagnostic, rule or result is one jansson
 * object dumped and freed before the next, so a set with a million findings
 * never becomes one tree in memory. Strings go through rein_json_string,
 * which turns bytes that are not UTF-8 (a file name, a quoted YAML value)
 * into U+FFFD; `bad` records an allocation or write failure. */
typedef struct jw {
  FILE *f;
  bool bad;
} jw;

static void put(jw *w, json_t *v) {
  if (rein_json_put(w->f, v, REIN_JSON_FLAGS) != 0) w->bad = true;
}

static json_t *jloc(const rein_contract_loc *l) {
  json_t *o = json_object();
  if (rein_json_set(o, "file", rein_json_string(l->file)) ||
      rein_json_set(o, "line", json_integer(l->line)) ||
      rein_json_set(o, "column", json_integer(l->col))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* One diagnostic. Members are inserted into their parent before they are
 * filled, so they come out in the order written (the schema's) and one
 * decref of the top object frees everything on a failure. */
static json_t *json_diag(const rein_contract_diag *d) {
  json_t *o = json_object(), *rel = NULL;
  int bad =
      rein_json_set(o, "rule", rein_json_string(d->rule)) ||
      rein_json_set(o, "severity",
                    json_string(rein_contract_severity_name(d->severity))) ||
      rein_json_set(o, "location", jloc(&d->loc)) ||
      rein_json_set(o, "message", rein_json_string(d->message)) ||
      rein_json_set(o, "fix", rein_json_string(d->fix)) ||
      rein_json_set(o, "related", rel = json_array());
  for (size_t k = 0; !bad && k < d->nrelated; k++) {
    json_t *r = NULL;
    bad = rein_json_push(rel, r = json_object()) ||
          rein_json_set(r, "location", jloc(&d->related[k].loc)) ||
          rein_json_set(r, "message", rein_json_string(d->related[k].message));
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static bool write_json(const rein_contract_set *s, FILE *f) {
  jw w = {f, false};
  fputs("{\"diagnostics\":[", f);
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    fputs(i ? ",\n" : "\n", f);
    put(&w, json_diag(rein_contract_diag_at(s, i)));
  }
  fprintf(f,
          "\n],\"summary\":{\"contracts\":%zu,\"errors\":%zu,\"warnings\":%zu,"
          "\"notes\":%zu}}\n",
          rein_contract_service_count(s),
          rein_contract_count(s, REIN_CONTRACT_ERROR),
          rein_contract_count(s, REIN_CONTRACT_WARNING),
          rein_contract_count(s, REIN_CONTRACT_NOTE));
  return !w.bad;
}

/* --------------------------------------------------------------- SARIF */

static const char *sarif_level(rein_contract_severity s) {
  return s == REIN_CONTRACT_ERROR     ? "error"
         : s == REIN_CONTRACT_WARNING ? "warning"
                                      : "note";
}

/* {key: v}, taking `v` (also on failure). */
static json_t *obj1(const char *key, json_t *v) {
  json_t *o = json_object();
  if (rein_json_set(o, key, v)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* {"text": s} */
static json_t *sarif_text(json_t *s) {
  return obj1("text", s);
}

/* Markdown help for a rule: the explanation, with its "Example:" and
 * "Fix:" paragraphs as they are (they read as Markdown already).
 *
 * Every builder here inserts a member into its parent first and fills it
 * after, so the members come out in the order written (the schema's) and
 * each value has an owner the moment it exists: on any failure the one
 * decref of the top object frees everything. */
static json_t *sarif_rule(const rein_contract_rule_info *r) {
  const char *full = r->explain && *r->explain ? r->explain : r->summary;
  json_t *o = json_object(), *help = NULL, *tags = NULL;
  if (rein_json_set(o, "id", rein_json_string(r->id)) ||
      rein_json_set(o, "name", rein_json_string(r->name)) ||
      rein_json_set(o, "shortDescription",
                    sarif_text(rein_json_string(r->summary))) ||
      rein_json_set(o, "fullDescription", sarif_text(rein_json_string(full))) ||
      rein_json_set(o, "help", help = json_object()) ||
      rein_json_set(help, "text", rein_json_string(full)) ||
      rein_json_set(help, "markdown", rein_json_string(full)) ||
      rein_json_set(o, "defaultConfiguration",
                    obj1("level", json_string(sarif_level(r->severity)))) ||
      rein_json_set(o, "properties", obj1("tags", tags = json_array())) ||
      rein_json_push(tags, json_string(r->id[0] == 'E' ? "input" : "retry"))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* An RFC 3986 path: unreserved characters and '/' as they are, every other
 * byte percent-encoded (so a file name that is not UTF-8 is still a valid,
 * lossless URI: the exact bytes can be decoded back from it). `prefix` goes
 * first and `suffix` last. The result is ASCII. */
static json_t *uri_path(const char *prefix, const char *s, const char *suffix) {
  size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(s);
  char *u = malloc(pl + 3 * n + sl + 1);
  if (!u) return NULL;
  memcpy(u, prefix, pl);
  char *o = u + pl;
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/') {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  memcpy(o, suffix, sl + 1);
  json_t *j = json_string_nocheck(u);
  free(u);
  return j;
}

/* The base every relative artifact URI is resolved against: the current
 * directory, as GitHub code scanning resolves against the checkout. */
typedef struct sarif_base {
  char cwd[4096];
  size_t len; /* 0 when the directory is unknown */
} sarif_base;

/* artifactLocation: a path under the current directory is written relative
 * to %SRCROOT% (what code-scanning services map onto the repository); any
 * other absolute path as a file:// URI; a relative path as it is. */
static json_t *sarif_artifact(const sarif_base *b, const char *file) {
  const char *path = file ? file : "";
  json_t *uri;
  bool rooted = true;
  if (path[0] == '/' && b->len && strncmp(path, b->cwd, b->len) == 0 &&
      path[b->len] == '/') {
    uri = uri_path("", path + b->len + 1, "");
  } else if (path[0] == '/') {
    uri = uri_path("file://", path, "");
    rooted = false;
  } else {
    while (path[0] == '.' && path[1] == '/')
      path += 2;
    uri = uri_path("", path, "");
  }
  json_t *o = obj1("uri", uri);
  if (o && rooted && rein_json_set(o, "uriBaseId", json_string("%SRCROOT%"))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* {"artifactLocation": ..., "region": ...}: the region only when the line
 * is known. */
static json_t *sarif_physical(const sarif_base *b, const rein_contract_loc *l) {
  json_t *o = obj1("artifactLocation", sarif_artifact(b, l->file)), *r = NULL;
  if (o && l->line &&
      (rein_json_set(o, "region", r = json_object()) ||
       rein_json_set(r, "startLine", json_integer(l->line)) ||
       rein_json_set(r, "startColumn", json_integer(l->col ? l->col : 1)))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* "message. Fix: fix", from the heap: a message quotes input and has no
 * length limit. */
static json_t *sarif_message(const rein_contract_diag *d) {
  const char *m = d->message ? d->message : "", *x = d->fix ? d->fix : "";
  size_t ml = strlen(m), xl = strlen(x);
  char *t = malloc(ml + xl + sizeof ". Fix: ");
  if (!t) return NULL;
  memcpy(t, m, ml);
  memcpy(t + ml, ". Fix: ", 7);
  memcpy(t + ml + 7, x, xl + 1);
  json_t *j = sarif_text(rein_json_string(t));
  free(t);
  return j;
}

static json_t *sarif_result(const sarif_base *b, const rein_contract_diag *d) {
  json_t *o = json_object(), *locs = NULL, *rel = NULL;
  int bad = rein_json_set(o, "ruleId", rein_json_string(d->rule));
  const rein_contract_rule_info *ri = rein_contract_rule(d->rule);
  if (!bad && ri) {
    /* ruleIndex: the rule's place in driver.rules (R rules, then E). */
    long idx = ri >= rules && ri < rules + REIN_CONTRACT_RULE_COUNT
                   ? (long)(ri - rules)
                   : REIN_CONTRACT_RULE_COUNT + (long)(ri - input_rules);
    bad = rein_json_set(o, "ruleIndex", json_integer(idx));
  }
  bad = bad ||
        rein_json_set(o, "level", json_string(sarif_level(d->severity))) ||
        rein_json_set(o, "message", sarif_message(d)) ||
        rein_json_set(o, "locations", locs = json_array()) ||
        rein_json_push(locs,
                       obj1("physicalLocation", sarif_physical(b, &d->loc)));
  if (!bad && d->nrelated)
    bad = rein_json_set(o, "relatedLocations", rel = json_array());
  for (size_t k = 0; !bad && k < d->nrelated; k++) {
    const rein_contract_related *r = &d->related[k];
    json_t *ro = NULL;
    bad =
        rein_json_push(rel, ro = json_object()) ||
        rein_json_set(ro, "id", json_integer((json_int_t)k + 1)) ||
        rein_json_set(ro, "physicalLocation", sarif_physical(b, &r->loc)) ||
        rein_json_set(ro, "message", sarif_text(rein_json_string(r->message)));
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static void sarif_base_get(sarif_base *b) {
  b->len = 0;
  if (getcwd(b->cwd, sizeof b->cwd) && b->cwd[0] == '/') {
    b->len = strlen(b->cwd);
    if (b->len == 1) b->len = 0; /* "/": every path is absolute anyway */
  }
}

/* The "results" array's members: the one part of a SARIF log that depends
 * on the set (the rules catalogue before it is the same for every set). */
static void sarif_results(jw *w, const sarif_base *b,
                          const rein_contract_set *s) {
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    fputs(i ? ",\n" : "\n", w->f);
    put(w, sarif_result(b, rein_contract_diag_at(s, i)));
  }
}

bool rein__rc_write_sarif_results(const rein_contract_set *s, FILE *f) {
  jw w = {f, false};
  sarif_base b;
  sarif_base_get(&b);
  sarif_results(&w, &b, s);
  return !w.bad;
}

static bool write_sarif(const rein_contract_set *s, FILE *f) {
  jw w = {f, false};
  sarif_base b;
  sarif_base_get(&b);
  fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
        "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{"
        "\"name\":\"rein\",\"version\":\"" REIN_VERSION_STRING "\","
        "\"semanticVersion\":\"" REIN_VERSION_STRING "\","
        "\"rules\":[",
        f);
  for (int i = 0; i < REIN_CONTRACT_RULE_COUNT; i++) {
    fputs(i ? ",\n" : "\n", f);
    put(&w, sarif_rule(&rules[i]));
  }
  for (size_t i = 0; i < sizeof input_rules / sizeof *input_rules; i++) {
    fputs(",\n", f);
    put(&w, sarif_rule(&input_rules[i]));
  }
  fputs("]}}", f);
  if (b.len) {
    /* {"%SRCROOT%": {"uri": "file:///cwd/"}} */
    fputs(",\"originalUriBaseIds\":", f);
    put(&w, obj1("%SRCROOT%", obj1("uri", uri_path("file://", b.cwd, "/"))));
  }
  fputs(",\"results\":[", f);
  sarif_results(&w, &b, s);
  fputs("\n]}]}\n", f);
  return !w.bad;
}

rein_status rein_contract_write(const rein_contract_set *s,
                                rein_contract_format fmt, FILE *out) {
  if (!s || !out) return REIN_EINVAL;
  switch (fmt) {
  case REIN_CONTRACT_FORMAT_TEXT:
    write_text(s, out);
    break;
  case REIN_CONTRACT_FORMAT_JSON:
    if (!write_json(s, out)) return ferror(out) ? REIN_EIO : REIN_ENOMEM;
    break;
  case REIN_CONTRACT_FORMAT_SARIF:
    if (!write_sarif(s, out)) return ferror(out) ? REIN_EIO : REIN_ENOMEM;
    break;
  default:
    return REIN_EINVAL;
  }
  return ferror(out) ? REIN_EIO : REIN_OK;
}

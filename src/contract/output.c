/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c: the rule catalogue (ids, severities, --explain text) and the
 * three writers of diagnostics: compiler-style text, JSON, and SARIF 2.1.0
 * for code-scanning UIs.
 *
 * The catalogue is one static table so the severity a rule reports, the
 * text `rein check --explain` prints and the SARIF rule descriptors can never
 * disagree. Writers only read the set; they escape every string they emit.
 */
#include "contract_internal.h"
#include "rein/input.h"

#include "rein/version.h"

#include <ctype.h>
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

static void jstr(FILE *f, const char *s) {
  fputc('"', f);
  /* runs of plain characters go out in one fwrite: the catalogue's texts
   * are long and a character at a time through stdio is most of a SARIF
   * write */
  static const char special[] = "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\t\n"
                                "\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15"
                                "\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    size_t run = strcspn((const char *)p, special);
    if (run) {
      fwrite(p, 1, run, f);
      p += run;
      if (!*p) break;
    }
    switch (*p) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*p < 0x20)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

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

static void jloc(FILE *f, const rein_contract_loc *l) {
  fputs("{\"file\":", f);
  jstr(f, l->file);
  fprintf(f, ",\"line\":%u,\"column\":%u}", l->line, l->col);
}

static void write_json(const rein_contract_set *s, FILE *f) {
  fputs("{\"diagnostics\":[", f);
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    const rein_contract_diag *d = rein_contract_diag_at(s, i);
    fputs(i ? ",\n{" : "\n{", f);
    fputs("\"rule\":", f);
    jstr(f, d->rule);
    fputs(",\"severity\":", f);
    jstr(f, rein_contract_severity_name(d->severity));
    fputs(",\"location\":", f);
    jloc(f, &d->loc);
    fputs(",\"message\":", f);
    jstr(f, d->message);
    fputs(",\"fix\":", f);
    jstr(f, d->fix);
    fputs(",\"related\":[", f);
    for (size_t k = 0; k < d->nrelated; k++) {
      fputs(k ? ",{\"location\":" : "{\"location\":", f);
      jloc(f, &d->related[k].loc);
      fputs(",\"message\":", f);
      jstr(f, d->related[k].message);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  fprintf(f,
          "\n],\"summary\":{\"contracts\":%zu,\"errors\":%zu,\"warnings\":%zu,"
          "\"notes\":%zu}}\n",
          rein_contract_service_count(s),
          rein_contract_count(s, REIN_CONTRACT_ERROR),
          rein_contract_count(s, REIN_CONTRACT_WARNING),
          rein_contract_count(s, REIN_CONTRACT_NOTE));
}

/* --------------------------------------------------------------- SARIF */

static const char *sarif_level(rein_contract_severity s) {
  return s == REIN_CONTRACT_ERROR     ? "error"
         : s == REIN_CONTRACT_WARNING ? "warning"
                                      : "note";
}

/* Markdown help for a rule: the explanation, with its "Example:" and
 * "Fix:" paragraphs as they are (they read as Markdown already). */
static void sarif_rule(FILE *f, const rein_contract_rule_info *r, bool first) {
  fputs(first ? "\n{\"id\":" : ",\n{\"id\":", f);
  jstr(f, r->id);
  fputs(",\"name\":", f);
  jstr(f, r->name);
  fputs(",\"shortDescription\":{\"text\":", f);
  jstr(f, r->summary);
  const char *full = r->explain && *r->explain ? r->explain : r->summary;
  fputs("},\"fullDescription\":{\"text\":", f);
  jstr(f, full);
  fputs("},\"help\":{\"text\":", f);
  jstr(f, full);
  fputs(",\"markdown\":", f);
  jstr(f, full);
  fputs("}", f);
  fprintf(f,
          ",\"defaultConfiguration\":{\"level\":\"%s\"},"
          "\"properties\":{\"tags\":[\"%s\"]}}",
          sarif_level(r->severity), r->id[0] == 'E' ? "input" : "retry");
}

/* An RFC 3986 path: unreserved characters and '/' as they are, every other
 * byte percent-encoded (so a file name that is not UTF-8 is still a valid,
 * lossless URI). */
static void uri_path(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    unsigned char c = *p;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/')
      fputc(c, f);
    else
      fprintf(f, "%%%02X", c);
  }
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
static void sarif_artifact(FILE *f, const sarif_base *b, const char *file) {
  const char *path = file ? file : "";
  fputs("\"artifactLocation\":{\"uri\":\"", f);
  if (path[0] == '/' && b->len && strncmp(path, b->cwd, b->len) == 0 &&
      path[b->len] == '/') {
    uri_path(f, path + b->len + 1);
    fputs("\",\"uriBaseId\":\"%SRCROOT%\"}", f);
  } else if (path[0] == '/') {
    fputs("file://", f);
    uri_path(f, path);
    fputs("\"}", f);
  } else {
    while (path[0] == '.' && path[1] == '/')
      path += 2;
    uri_path(f, path);
    fputs("\",\"uriBaseId\":\"%SRCROOT%\"}", f);
  }
}

static void sarif_region(FILE *f, const rein_contract_loc *l) {
  if (l->line)
    fprintf(f, ",\"region\":{\"startLine\":%u,\"startColumn\":%u}", l->line,
            l->col ? l->col : 1);
}

static void sarif_loc(FILE *f, const sarif_base *b,
                      const rein_contract_loc *l) {
  fputs("{\"physicalLocation\":{", f);
  sarif_artifact(f, b, l->file);
  sarif_region(f, l);
  fputs("}}", f);
}

static void write_sarif(const rein_contract_set *s, FILE *f) {
  sarif_base b = {.len = 0};
  if (getcwd(b.cwd, sizeof b.cwd) && b.cwd[0] == '/') {
    b.len = strlen(b.cwd);
    if (b.len == 1) b.len = 0; /* "/": every path is absolute anyway */
  }
  fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
        "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{"
        "\"name\":\"rein\",\"version\":\"" REIN_VERSION_STRING "\","
        "\"semanticVersion\":\"" REIN_VERSION_STRING "\","
        "\"rules\":[",
        f);
  for (int i = 0; i < REIN_CONTRACT_RULE_COUNT; i++)
    sarif_rule(f, &rules[i], i == 0);
  for (size_t i = 0; i < sizeof input_rules / sizeof *input_rules; i++)
    sarif_rule(f, &input_rules[i], false);
  fputs("]}}", f);
  if (b.len) {
    fputs(",\"originalUriBaseIds\":{\"%SRCROOT%\":{\"uri\":\"file://", f);
    uri_path(f, b.cwd);
    fputs("/\"}}", f);
  }
  fputs(",\"results\":[", f);
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    const rein_contract_diag *d = rein_contract_diag_at(s, i);
    fputs(i ? ",\n{\"ruleId\":" : "\n{\"ruleId\":", f);
    jstr(f, d->rule);
    const rein_contract_rule_info *ri = rein_contract_rule(d->rule);
    if (ri) {
      /* ruleIndex: the rule's place in driver.rules (R rules, then E). */
      long idx = ri >= rules && ri < rules + REIN_CONTRACT_RULE_COUNT
                     ? (long)(ri - rules)
                     : REIN_CONTRACT_RULE_COUNT + (long)(ri - input_rules);
      fprintf(f, ",\"ruleIndex\":%ld", idx);
    }
    fprintf(f, ",\"level\":\"%s\",\"message\":{\"text\":",
            sarif_level(d->severity));
    char msg[2048];
    snprintf(msg, sizeof msg, "%s. Fix: %s", d->message, d->fix);
    jstr(f, msg);
    fputs("},\"locations\":[", f);
    sarif_loc(f, &b, &d->loc);
    fputs("]", f);
    if (d->nrelated) {
      fputs(",\"relatedLocations\":[", f);
      for (size_t k = 0; k < d->nrelated; k++) {
        const rein_contract_related *r = &d->related[k];
        fprintf(f, "%s{\"id\":%zu,\"physicalLocation\":{", k ? "," : "", k + 1);
        sarif_artifact(f, &b, r->loc.file);
        sarif_region(f, &r->loc);
        fputs("},\"message\":{\"text\":", f);
        jstr(f, r->message);
        fputs("}}", f);
      }
      fputs("]", f);
    }
    fputs("}", f);
  }
  fputs("\n]}]}\n", f);
}

rein_status rein_contract_write(const rein_contract_set *s,
                                rein_contract_format fmt, FILE *out) {
  if (!s || !out) return REIN_EINVAL;
  switch (fmt) {
  case REIN_CONTRACT_FORMAT_TEXT:
    write_text(s, out);
    break;
  case REIN_CONTRACT_FORMAT_JSON:
    write_json(s, out);
    break;
  case REIN_CONTRACT_FORMAT_SARIF:
    write_sarif(s, out);
    break;
  default:
    return REIN_EINVAL;
  }
  return ferror(out) ? REIN_EIO : REIN_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/input.h: reading untrusted input safely, shared by the optional
 * libraries (rein_contract, rein_sim) and the `rein` tool: a bounded read of
 * a regular file that never blocks on a FIFO or a device, a depth pre-scan
 * for YAML text before it reaches libyaml, a size parser ("512MiB"), the
 * one escaper every text writer uses to show untrusted strings on a
 * terminal, and the UTF-8 check and repair every JSON writer applies.
 *
 * Everything here is a pure function of its arguments (the file reader
 * aside, which only reads the file): thread-safe, no global state.
 */
#ifndef REIN_INPUT_H
#define REIN_INPUT_H

#include "rein/common.h"
#include "rein/errors.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Read the whole of `path` into a new buffer of at most `max_bytes` bytes
 * (allocated through `alloc`, NUL-terminated one byte past `*len`; free it
 * with rein_free(alloc, *out)). The file is opened with O_NONBLOCK and its
 * type checked on the descriptor before anything is read, so a FIFO, a
 * socket or a device is refused at once instead of blocking.
 *
 * Returns REIN_OK; REIN_EIO when it cannot be opened or read (the reason,
 * "cannot open: No such file or directory", is in `err` if given, without
 * the path: callers prefix it); REIN_EINVAL when it is not a regular file
 * ("not a regular file (a FIFO)"); REIN_ETOOBIG past `max_bytes` ("larger
 * than 4194304 bytes"); REIN_ENOMEM. `*out` is NULL on every error.
 */
REIN_API rein_status rein_file_read(const char *path, size_t max_bytes,
                                    const rein_allocator *alloc,
                                    rein_errbuf *err, char **out, size_t *len);

/* The default nesting limit of rein_yaml_check_depth. */
#define REIN_YAML_MAX_DEPTH 64

/*
 * Refuse YAML text nested deeper than `max_depth` (0 = REIN_YAML_MAX_DEPTH)
 * before it is given to libyaml, whose scanner is quadratic in the nesting
 * depth (100,000 `[` take more than a minute in libyaml 0.2.5). Depth counts
 * flow collections (`[` and `{`) plus block levels (each deeper
 * indentation, and each `- ` / `? ` that starts a compact nested
 * collection). Quoted scalars, comments and block scalars (`|`, `>`) are
 * skipped, so brackets inside them do not count. One linear pass, no
 * allocation.
 *
 * Returns REIN_OK, or REIN_ETOOBIG with `*line` and `*col` (1-based, may be
 * NULL) at the character that went one level too deep. The count is an
 * upper bound of libyaml's own nesting (a plain scalar continued on more
 * indented lines counts as a level), so text it accepts is never deeper
 * than `max_depth` for libyaml.
 */
REIN_API rein_status rein_yaml_check_depth(const char *text, size_t len,
                                           unsigned max_depth, size_t *line,
                                           size_t *col);

/*
 * Parse a size: a non-negative number with an optional unit, B, KiB, MiB,
 * GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), with or
 * without a space ("512MiB", "2 GiB", "1.5GB", "4096"). REIN_OK;
 * REIN_EPARSE for anything else; REIN_ERANGE past 2^62 bytes.
 */
REIN_API rein_status rein_parse_size(const char *s, uint64_t *bytes);

/*
 * The one duration grammar of rein (contracts, scenarios, the command
 * line): "0", or one or more of a number and a unit, "250ms", "15s",
 * "1.5s", "1h30m", "2m30s"; units ns, us, ms, s, m (or min), h, d, w;
 * leading spaces skipped, no space inside. Whole numbers are exact;
 * decimals are rounded to the nanosecond. REIN_OK; REIN_EPARSE for
 * anything else; REIN_ERANGE for a negative value or past INT64_MAX ns.
 */
REIN_API rein_status rein_parse_duration(const char *s, int64_t *ns);

/* `ns` losslessly in that grammar, largest units first: "1h30m",
 * "1s500ms", "250ms", "0s" (for 0 and negatives). Parsing the text gives
 * `ns` back. Returns `buf` (cut when `cap` is short). */
REIN_API const char *rein_format_duration(int64_t ns, char *buf, size_t cap);

/* `bytes` for people: "512 MiB", "2.5 GiB", "900 B" (into buf, returned). */
REIN_API const char *rein_format_size(uint64_t bytes, char *buf, size_t cap);

/*
 * Escape untrusted text for a terminal or a log line. Copies `s` (up to its
 * NUL) into `out` (at most cap - 1 bytes and a NUL; output that does not fit
 * is cut at a character boundary) with these shown as escapes: C0 controls
 * (\n, \r, \t, \e written so, the rest \xNN), DEL (\x7f), C1 controls
 * (\u0085 and the like), the bidirectional controls U+200E, U+200F,
 * U+202A..U+202E and U+2066..U+2069 (\u202e), and every byte that is not
 * part of valid UTF-8 (\xNN). Everything else, including printable UTF-8,
 * is copied as is. Returns the length the full escaped text needs (like
 * snprintf), so a return >= cap means it was cut.
 */
REIN_API size_t rein_text_escape(char *out, size_t cap, const char *s);

/* rein_text_escape straight to `f` (no length limit). Returns what fputs
 * returns for the last piece (EOF on a write error). */
REIN_API int rein_text_fputs(const char *s, FILE *f);

/*
 * Length of the longest prefix of `s` (up to its NUL; NULL reads as "")
 * that is valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * past U+10FFFF). The whole string is valid when it returns strlen(s).
 */
REIN_API size_t rein_utf8_valid_len(const char *s);

/*
 * Copy `s` (up to its NUL; NULL reads as "") into `out` with every byte
 * that is not part of valid UTF-8 replaced by U+FFFD (EF BF BD), so the
 * result is valid UTF-8 whatever `s` holds: what the JSON and SARIF
 * writers do to file names and messages that are not UTF-8 (docs/security.md,
 * "JSON"). At most cap - 1 bytes and a NUL are written; output that does
 * not fit is cut at a character boundary. Returns the length the whole
 * result needs (like snprintf), so a return >= cap means it was cut.
 */
REIN_API size_t rein_utf8_scrub(char *out, size_t cap, const char *s);

/*
 * Did you mean: the candidate closest to `word` (case-insensitive optimal
 * string alignment: edits and adjacent transpositions) within 1 edit for
 * words of up to 3 bytes, 2 up to 6, 3 beyond; NULL when none is that
 * close (or for NULL arguments). Words and candidates longer than 64 bytes
 * are never suggested. No allocation.
 */
REIN_API const char *rein_suggest(const char *word, const char *const *cands,
                                  size_t n);
/* The capped distance itself: the number of edits, or cap + 1 when it is
 * more than cap. */
REIN_API size_t rein_edit_distance(const char *a, const char *b, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* REIN_INPUT_H */

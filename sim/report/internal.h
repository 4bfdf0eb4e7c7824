/* internal.h: report's file writers (write.c) and JSON writer (json.c), shared by the
 * result formats (report.c, system.c). */
#ifndef BFLY_REPORT_INTERNAL_H
#define BFLY_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../workload/workload.h"
#include "report.h"

/* Writes a document (fn(f, ctx)) to path so that it is whole or absent whatever happens:
 * through a temporary file in path's directory (mkstemp), given path's mode when it
 * exists, synced and renamed into place, with SIGINT, SIGTERM and SIGHUP held meanwhile.
 * A symbolic link keeps pointing where it did (its target is replaced); a device, a FIFO
 * or the file standard output goes to is written in place. */
int rep_write_file(const char *path, void (*fn)(FILE *, const void *), const void *ctx, char *err,
                   size_t errlen);

/* Appends row (ending in a newline) to the CSV file path under an exclusive lock, the
 * header line first when the file is new or empty; refuses a file whose first line is
 * another header (what names the layout in that message). Signals are held as above, so a
 * row is whole or absent. */
int rep_append_row(const char *path, const char *header, const char *row, const char *what,
                   char *err, size_t errlen);

/* CSV fields (write.c): appended to buf (len bytes, *used so far) after a comma unless
 * first; a field holding a comma, quote or line break is quoted. */
/* hold: keep SIGINT, SIGTERM and SIGHUP held from the temporary file's creation to its
 * rename (a document written at once); a trace, written during a run, holds them only
 * while it closes */
int rep_stream_open(rep_stream *s, const char *path, bool hold, char *err, size_t errlen);
int rep_stream_close(rep_stream *s, bool keep, const char *path, char *err, size_t errlen);

/* A model's tokens as a summary says them: "seq_len N", or a decode step's new tokens
 * and cache. */
void rep_step(const wl_desc *w, char *buf, size_t len);

void csv_field(char *buf, size_t len, size_t *used, const char *s);
void csv_num(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Room for the overrides column: 64 --set arguments of up to 255 characters. */
#define REP_CSV_OVERRIDES_MAX (64 * 256)
/* The --set overrides, space-separated in the order given: what tells a sweep's rows
 * apart. */
void csv_overrides(char *buf, size_t len, size_t *u, const char *const *ov, size_t n_ov);

/* A JSON document being written: its nesting depth, and whether the next member is the
 * first of its object or array (no comma before it). */
typedef struct jw {
    FILE *f;
    int depth;
    bool first;
} jw;

/* The separator before a member, and its indentation. */
void j_sep(jw *j);
/* A JSON string: escapes quotes, backslashes and control characters, and writes a byte
 * that is not UTF-8 as U+FFFD. */
void j_str(FILE *f, const char *s);
void j_key(jw *j, const char *k);
/* Opens an object ('{') or array ('[') as member k (NULL: an array element). */
void j_open(jw *j, const char *k, char br);
void j_close(jw *j, char br);
void j_u(jw *j, const char *k, uint64_t v);
/* A number (null when not finite). */
void j_d(jw *j, const char *k, double v);
void j_s(jw *j, const char *k, const char *v);
void j_b(jw *j, const char *k, bool v);
void j_strings(jw *j, const char *k, const char *const *v, size_t n);
/* The command line (argv, NULL: none) and its --set overrides: what tells runs of a sweep
 * apart. */
void j_invocation(jw *j, int argc, char *const *argv, const char *const *ov, size_t n_ov);

/* peer.c: the array against the --peer accelerator (summary lines and JSON object). */
void rep_peer_versus_lines(FILE *f, const rep_run *r, double seconds, double energy_pj);
void rep_peer_versus_json(jw *j, const rep_run *r, double seconds, double energy_pj);

#endif

/* testutil.h: helpers for the Check tests: run the CLI in-process, temporary files, text edits. */
#ifndef BFLY_TESTUTIL_H
#define BFLY_TESTUTIL_H

#include <stddef.h>

#include <check.h>

#include "../sim/arch/arch.h"
#include "../sim/workload/workload.h"

/* Runs a suite (forking per test) and returns the process exit status. */
int tu_main(Suite *s);

typedef struct tu_result {
    int status;
    char *out, *err; /* captured standard output and error */
} tu_result;

/* Runs cli_main on a NULL-terminated argument list (without argv[0]). */
void tu_run(tu_result *r, ...);
/* The same with an argument vector. */
void tu_runv(tu_result *r, int argc, const char *const *argv);
void tu_free(tu_result *r);
/* Runs cli_main on a NULL-terminated argument list and checks its exit status and that
 * its standard error contains phrase. */
void tu_expect(int status, const char *phrase, ...);

/* Path of a file in the source tree (BFLYSIM_SRCDIR, or the current directory). */
const char *tu_src(char *buf, size_t len, const char *rel);
/* Loads a shipped arch file (a path in the source tree), failing the test on an error. */
void tu_load_arch(const char *rel, arch_desc *a);
/* Loads a shipped arch and workload with n --set overrides ("workload.seq_len=64"),
 * failing the test on an error. */
void tu_load(const char *arch_rel, const char *wl_rel, const char *const *sets, size_t n,
             arch_desc *a, wl_desc *d);
/* A fresh path in the temporary directory, unique per process and call. */
const char *tu_tmp(char *buf, size_t len, const char *name);

char *tu_read(const char *path, size_t *len);
void tu_write(const char *path, const char *text);
/* Copy of text with the first occurrence of old replaced (old must occur). */
char *tu_replace(const char *text, const char *old, const char *new_text);
/* 1-based line on which needle first occurs in text, 0 if absent. */
int tu_line_of(const char *text, const char *needle);
/* The number after "key": in JSON text, at its first occurrence after anchor (NULL: from
 * the start); fails the test when either is missing. */
double tu_json_num(const char *text, const char *anchor, const char *key);
/* Fails the test unless got is within rel x |want| of want (what names the value). */
void tu_assert_close(double got, double want, double rel, const char *what);

/* The most lane operations the array can do per cycle: a PE does at most one per lane and
 * cycle in each function unit (a kernel may use several units at once), so per cycle the
 * sum of the units' lanes_per_cycle, halved for FP32 (two FP16 lanes per FP32 lane). A
 * bound derived from the arch description alone. */
double tu_lane_ops_per_cycle(const arch_desc *a, util_dtype t);

#endif

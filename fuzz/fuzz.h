/* fuzz.h: the input loop and scratch directory that the AFL++ harnesses share. */
#ifndef BFLY_FUZZ_H
#define BFLY_FUZZ_H

#include <stddef.h>

/* Largest input a harness takes (longer ones are cut): configs are small, and AFL++
 * learns nothing from megabytes of text. */
#define FUZZ_MAX_INPUT (64u << 10)

/* Runs setup() once, then one(data, len) on every input: AFL++'s persistent loop over
 * shared memory when built with afl-cc, else each file named on the command line (or
 * standard input), so that an input AFL++ saved replays with a plain build. data is
 * NUL-terminated. Returns the exit status. */
int fuzz_main(int argc, char **argv, void (*setup)(void),
              void (*one)(const char *data, size_t len));

/* A private scratch directory, made by fuzz_main before setup() and removed at exit. */
const char *fuzz_dir(void);
/* path = the scratch directory / name. */
void fuzz_path(char *path, size_t len, const char *name);
/* Writes data to path, aborting on an I/O error (the harness, not the target, failed). */
void fuzz_write(const char *path, const char *data, size_t len);
/* The text of rel in the source tree (BFLY_SRCDIR), NUL-terminated; aborts if missing. */
char *fuzz_read_src(const char *rel, size_t *len);
/* Reports a broken invariant of the target and aborts, so that AFL++ saves the input. */
void fuzz_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

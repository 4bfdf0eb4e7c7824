/* fuzz.c: the AFL++ persistent loop, replay of saved inputs and the harnesses' scratch files. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef BFLY_SRCDIR
#define BFLY_SRCDIR "."
#endif

/* afl-cc defines these; the persistent loop reads inputs from shared memory. */
#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

static char scratch[1024];
/* Set while the target runs: a library must return its errors, never exit the process
 * (the tests and other callers run it in-process), so exit() there is a bug too. */
static volatile int in_target;

static void exit_in_target(void)
{
    if (in_target) {
        fputs("fuzz: the target called exit()\n", stderr);
        abort();
    }
}

static void run_one(void (*one)(const char *data, size_t len), const char *data, size_t len)
{
    in_target = 1;
    one(data, len);
    in_target = 0;
}

const char *fuzz_dir(void)
{
    return scratch;
}

void fuzz_path(char *path, size_t len, const char *name)
{
    snprintf(path, len, "%s/%s", scratch, name);
}

void fuzz_bug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void fuzz_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static char *read_all(FILE *f, size_t *len)
{
    char *buf = malloc(FUZZ_MAX_INPUT + 1);
    if (!buf)
        abort();
    size_t n = fread(buf, 1, FUZZ_MAX_INPUT, f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *fuzz_read_src(const char *rel, size_t *len)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", BFLY_SRCDIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    size_t n;
    char *text = read_all(f, &n);
    fclose(f);
    if (len)
        *len = n;
    return text;
}

/* The target may leave files (the CLI's outputs) in the directory: one level only. */
static void remove_scratch(void)
{
    DIR *d = opendir(scratch);
    if (!d)
        return;
    struct dirent *e;
    char path[2048];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(scratch);
}

static void make_scratch(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/bflyfuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        perror(scratch);
        abort();
    }
    atexit(remove_scratch);
    atexit(exit_in_target); /* runs first: an abort leaves the directory for a look */
}

int fuzz_main(int argc, char **argv, void (*setup)(void), void (*one)(const char *data, size_t len))
{
    if (argc > 1) {
        /* replay: each named file ("-": standard input) is one input, all read before
         * setup() (the CLI harness changes directory) */
        char **data = calloc((size_t)argc, sizeof *data);
        size_t *lens = calloc((size_t)argc, sizeof *lens);
        if (!data || !lens)
            abort();
        for (int i = 1; i < argc; i++) {
            FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "rb") : stdin;
            if (!f) {
                perror(argv[i]);
                return 1;
            }
            data[i] = read_all(f, &lens[i]);
            if (f != stdin)
                fclose(f);
        }
        make_scratch();
        setup();
        for (int i = 1; i < argc; i++) {
            run_one(one, data[i], lens[i]);
            free(data[i]);
        }
        free(data);
        free(lens);
        return 0;
    }
#ifdef __AFL_FUZZ_TESTCASE_LEN
    /* The fork server starts here: each child makes its own scratch directory. */
    __AFL_INIT();
    make_scratch();
    setup();
    static char buf[FUZZ_MAX_INPUT + 1];
    const unsigned char *in = __AFL_FUZZ_TESTCASE_BUF;
    /* a fresh process every 10000 inputs bounds what a leak can accumulate */
    while (__AFL_LOOP(10000)) {
        size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
        if (len > FUZZ_MAX_INPUT)
            len = FUZZ_MAX_INPUT;
        memcpy(buf, in, len);
        buf[len] = '\0';
        run_one(one, buf, len);
    }
#else
    size_t len;
    make_scratch();
    setup();
    char *data = read_all(stdin, &len);
    run_one(one, data, len);
    free(data);
#endif
    return 0;
}

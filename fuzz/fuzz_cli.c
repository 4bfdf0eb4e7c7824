/* fuzz_cli.c: AFL++ harness of the command line: each input is an argument vector for cli_main. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sim/cli/cli.h"
#include "../sim/mapper/mapper.h"
#include "../sim/run/run.h"
#include "../sim/util/util.h"
#include "fuzz.h"

/* An input holds one argument per line (argv[0] excluded). The scratch directory is the
 * working directory and holds small files the arguments may name: */
#define MAX_ARGS 32
static const char *const fixtures[][2] = {
    {"a.cfg", "arch/mld-4x4.cfg"},                     /* arch with an energy table */
    {"t.cfg", "tests/data/tiny-1x2.cfg"},              /* a 1x2 arch */
    {"w.cfg", "workloads/butterfly-linear-64.cfg"},    /* 16 rows x 64 */
    {"n.cfg", "tests/data/tiny-n4.cfg"},               /* one 4-point butterfly */
    {"g.cfg", "arch/gpu/xavier-nx-15w.cfg"},           /* a GPU preset */
    {"c.csv", "tests/data/gpu-microbench-dryrun.csv"}, /* --gpu-calibrate input */
    {"m.cfg", NULL},                                   /* a butterfly-linear mapping */
    {"x.cfg", NULL},                                   /* a small model */
};
static const char mapping_text[] =
    "mapping = (\n"
    "  { block = 0; op = \"butterfly-linear\"; layer_pes = 2; pipelines = 1; "
    "stages_per_pass = 6; }\n);\n";
static const char model_text[] = "kind = \"model\";\nseq_len = 16;\nhidden = 16;\nheads = 2;\n"
                                 "ffn = 32;\nblocks = (\n  { mixer = \"attention\"; },\n"
                                 "  { mixer = \"fft\"; proj = \"butterfly\"; },\n"
                                 "  { mixer = \"fft-compress\"; chunk = 4; }\n);\n";

/* ------------------------------------------------------------------ sandbox
 * The harness links with -Wl,--wrap for the functions below: while cli_main runs, writes
 * stay in the scratch directory and spare the fixtures, and only tiny layers are mapped
 * and run (a model's search alone takes tens of ms, and --set can ask for 2^40 elements:
 * slow runs would starve the fuzzer, and they test the engine, not the command line). */
static bool sandbox;

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
int __real_map_butterfly_search(const arch_desc *a, const wl_butterfly *b, bool functional,
                                const map_forced *how, map_result *out, char *err, size_t errlen);
int __wrap_map_butterfly_search(const arch_desc *a, const wl_butterfly *b, bool functional,
                                const map_forced *how, map_result *out, char *err, size_t errlen);
int __wrap_run_model(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                     bool functional, const char *fault, const run_progress *progress,
                     run_result *out, char *err, size_t errlen);
int __wrap_run_model_analytical(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                                const run_progress *progress, run_result *out, char *err,
                                size_t errlen);

/* Whether path may be written: a plain name in the scratch directory, not a fixture. */
static bool writable(const char *path)
{
    if (strchr(path, '/'))
        return false;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
        if (strcmp(path, fixtures[i][0]) == 0)
            return false;
    return true;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    if (sandbox && strpbrk(mode, "wa+") && !writable(path)) {
        errno = EACCES;
        return NULL;
    }
    return __real_fopen(path, mode);
}

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (sandbox && (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) && !writable(path)) {
        errno = EACCES;
        return -1;
    }
    return __real_open(path, flags, mode);
}

/* report/write.c writes through a temporary file renamed onto the target */
int __wrap_rename(const char *from, const char *to)
{
    if (sandbox && !writable(to)) {
        errno = EACCES;
        return -1;
    }
    return __real_rename(from, to);
}

int __wrap_map_butterfly_search(const arch_desc *a, const wl_butterfly *b, bool functional,
                                const map_forced *how, map_result *out, char *err, size_t errlen)
{
    if (b->rows * b->n > 256 || a->array.rows * a->array.cols > 16)
        return util_fail(UTIL_ERUN, err, errlen, "fuzz: layer not run");
    return __real_map_butterfly_search(a, b, functional, how, out, err, errlen);
}

int __wrap_run_model(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                     bool functional, const char *fault, const run_progress *progress,
                     run_result *out, char *err, size_t errlen)
{
    (void)a, (void)d, (void)forced, (void)functional, (void)fault, (void)progress, (void)out;
    return util_fail(UTIL_ERUN, err, errlen, "fuzz: model not run");
}

int __wrap_run_model_analytical(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                                const run_progress *progress, run_result *out, char *err,
                                size_t errlen)
{
    (void)a, (void)d, (void)forced, (void)progress, (void)out;
    return util_fail(UTIL_ERUN, err, errlen, "fuzz: model not run");
}

/* ------------------------------------------------------------------ harness */

static FILE *null_out;

/* Removes what the last run wrote (--json, --csv ...), so that each input starts alike. */
static void remove_outputs(void)
{
    DIR *d = opendir(".");
    if (!d)
        abort();
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && writable(e->d_name))
            unlink(e->d_name);
    closedir(d);
}

static void setup(void)
{
    if (chdir(fuzz_dir()) != 0) {
        perror(fuzz_dir());
        abort();
    }
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        size_t len;
        char *text = fixtures[i][1] ? fuzz_read_src(fixtures[i][1], &len) : NULL;
        if (!text) {
            bool map = strcmp(fixtures[i][0], "m.cfg") == 0;
            text = strdup(map ? mapping_text : model_text);
            len = strlen(text);
        }
        fuzz_write(fixtures[i][0], text, len);
        free(text);
    }
    null_out = fopen("/dev/null", "w");
    if (!null_out)
        abort();
}

static void one(const char *data, size_t len)
{
    static char copy[FUZZ_MAX_INPUT + 1];
    char *argv[MAX_ARGS + 2] = {"bflysim"};
    int argc = 1;
    memcpy(copy, data, len + 1);
    /* a final newline ends the last argument; an empty line is an empty argument */
    for (char *p = copy; *p && argc <= MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    argv[argc] = NULL;
    char *err_text = NULL;
    size_t err_len = 0;
    FILE *err = open_memstream(&err_text, &err_len);
    if (!err)
        abort();
    sandbox = true;
    int rc = cli_main(argc, argv, null_out, err);
    sandbox = false;
    fclose(err);
    remove_outputs();
    if (rc < 0 || rc > 3)
        fuzz_bug("exit status %d", rc);
    if (rc && !err_len)
        fuzz_bug("exit status %d without a message", rc);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "status %d: %s", rc, err_text);
    free(err_text);
}

int main(int argc, char **argv)
{
    /* the help text, for scripts/fuzz.sh's dictionary */
    if (argc == 2 && strcmp(argv[1], "--options") == 0)
        return cli_main(2, (char *[]){"bflysim", "--help", NULL}, stdout, stderr);
    return fuzz_main(argc, argv, setup, one);
}

/* testutil.c: helpers shared by the Check tests. */
#define _GNU_SOURCE
#include "testutil.h"

#include <check.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sim/cli/cli.h"
#include "../sim/config/config.h"

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs the suite with TMPDIR set to a directory of its own, removed afterwards with
 * whatever the tests (tu_tmp) and the runs they start left in it. */
int tu_main(Suite *s)
{
    const char *base = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bflysim-tests-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir) || setenv("TMPDIR", dir, 1) != 0) {
        fprintf(stderr, "cannot make a temporary directory like %s\n", dir);
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    ck_assert_ptr_nonnull(s);
    rewind(f);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = '\0';
    fclose(f);
    return s;
}

void tu_runv(tu_result *r, int argc, const char *const *argv)
{
    char **v = calloc((size_t)argc + 2, sizeof *v);
    ck_assert_ptr_nonnull(v);
    v[0] = "bflysim";
    for (int i = 0; i < argc; i++)
        v[i + 1] = (char *)argv[i];
    FILE *out = tmpfile(), *err = tmpfile();
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(err);
    r->status = cli_main(argc + 1, v, out, err);
    r->out = slurp(out);
    r->err = slurp(err);
    free(v);
}

void tu_run(tu_result *r, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, r);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 64;)
        args[n++] = a;
    va_end(ap);
    tu_runv(r, n, args);
}

void tu_expect(int status, const char *phrase, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, phrase);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 64;)
        args[n++] = a;
    va_end(ap);
    tu_result r;
    tu_runv(&r, n, args);
    ck_assert_int_eq(r.status, status);
    ck_assert_msg(strstr(r.err, phrase), "'%s' missing from: %s", phrase, r.err);
    tu_free(&r);
}

void tu_load_arch(const char *rel, arch_desc *a)
{
    char path[512], err[512];
    ck_assert_msg(cfg_load_arch(tu_src(path, sizeof path, rel), NULL, 0, a, err, sizeof err) == 0,
                  "%s", err);
}

void tu_load(const char *arch_rel, const char *wl_rel, const char *const *sets, size_t n,
             arch_desc *a, wl_desc *d)
{
    char apath[512], wpath[512], err[512];
    cfg_override ov[16];
    ck_assert_uint_le(n, sizeof ov / sizeof ov[0]);
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(cfg_parse_override(sets[k], &ov[k], err, sizeof err) == 0, "%s", err);
    ck_assert_msg(cfg_load(tu_src(apath, sizeof apath, arch_rel),
                           tu_src(wpath, sizeof wpath, wl_rel), ov, n, a, d, err, sizeof err) == 0,
                  "%s", err);
}

void tu_free(tu_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *tu_src(char *buf, size_t len, const char *rel)
{
    const char *dir = getenv("BFLYSIM_SRCDIR");
    snprintf(buf, len, "%s/%s", dir && *dir ? dir : ".", rel);
    return buf;
}

const char *tu_tmp(char *buf, size_t len, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, len, "%s/bflysim-test-XXXXXX-%s", dir && *dir ? dir : "/tmp", name);
    int fd = mkstemps(buf, (int)strlen(name) + 1);
    ck_assert_msg(fd >= 0, "cannot create a temporary file like %s", buf);
    close(fd);
    return buf;
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    if (len)
        *len = (size_t)n;
    return slurp(f);
}

void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

char *tu_replace(const char *text, const char *old, const char *new_text)
{
    const char *at = strstr(text, old);
    ck_assert_msg(at != NULL, "'%s' not found", old);
    size_t a = (size_t)(at - text), lo = strlen(old), ln = strlen(new_text);
    char *s = malloc(strlen(text) - lo + ln + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, text, a);
    memcpy(s + a, new_text, ln);
    strcpy(s + a + ln, at + lo);
    return s;
}

int tu_line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    if (!at)
        return 0;
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

double tu_lane_ops_per_cycle(const arch_desc *a, util_dtype t)
{
    double per_pe = 0;
    for (int u = 0; u < ARCH_FU_COUNT; u++)
        per_pe += a->pe.fu[u].lanes_per_cycle / (t == UTIL_FP32 ? 2.0 : 1.0);
    return per_pe * arch_pe_count(a);
}

double tu_json_num(const char *text, const char *anchor, const char *key)
{
    const char *at = anchor ? strstr(text, anchor) : text;
    ck_assert_msg(at != NULL, "no %s in the JSON", anchor);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *k = strstr(at, pat);
    ck_assert_msg(k != NULL, "no %s in the JSON after %s", key, anchor ? anchor : "its start");
    return strtod(k + strlen(pat), NULL);
}

void tu_assert_close(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "%s: %.12g, expected %.12g", what, got,
                  want);
}

/* libsystemc (linked through the SystemC engine) calls sc_main from its own main(): the
 * tests have their own main(), so this is never called. */
int sc_main(int argc, char **argv);
int sc_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    return 1;
}

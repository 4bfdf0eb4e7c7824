/* check_config.c: every class of config error exits 2 and names FILE:LINE, the key and the value.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/util/util.h"
#include "testutil.h"

#define ARCH "arch/mld-4x4.cfg"
#define WL "workloads/butterfly-linear-64.cfg"

/* Writes a copy of a shipped file with one text replaced, runs bflysim on it, and
 * checks exit status 2 and a message "bflysim: FILE:LINE: ..." containing each phrase.
 * line 0 means: the line of the replacement text. */
static void expect_error(const char *rel, const char *old, const char *new_text, int line,
                         const char *phrase1, const char *phrase2)
{
    char src[512], tmp[512], other[512], prefix[600];
    char *text = tu_read(tu_src(src, sizeof src, rel), NULL);
    char *edited = tu_replace(text, old, new_text);
    tu_write(tu_tmp(tmp, sizeof tmp, "edited.cfg"), edited);
    bool is_arch = strncmp(rel, "arch/", 5) == 0;
    tu_src(other, sizeof other, is_arch ? WL : ARCH);
    tu_result r;
    if (is_arch)
        tu_run(&r, "-q", tmp, other, NULL);
    else
        tu_run(&r, "-q", other, tmp, NULL);
    if (line == 0)
        line = tu_line_of(edited, new_text);
    snprintf(prefix, sizeof prefix, "bflysim: %s:%d: ", tmp, line);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "expected '%s' at the start of: %s",
                  prefix, r.err);
    ck_assert_msg(strstr(r.err, phrase1), "'%s' missing from: %s", phrase1, r.err);
    if (phrase2)
        ck_assert_msg(strstr(r.err, phrase2), "'%s' missing from: %s", phrase2, r.err);
    ck_assert_str_eq(r.out, "");
    tu_free(&r);
    remove(tmp);
    free(edited);
    free(text);
}

START_TEST(test_unknown_key)
{
    expect_error(ARCH, "  cols = 4;", "  colz = 4;", 0, "unknown key 'array.colz'",
                 "did you mean 'array.cols'?");
    /* A key that belongs to another group is pointed at its place. */
    expect_error(ARCH, "tech_nm = 12;", "tech_nm = 12; lanes = 8;", 0, "unknown key 'lanes'",
                 "did you mean 'pe.lanes'?");
    /* Nothing close: no suggestion, a pointer to --list-keys. */
    expect_error(WL, "seed = 1;", "seed = 1; frobnicator = 3;", 0, "unknown key 'frobnicator'",
                 "--list-keys");
}
END_TEST

START_TEST(test_wrong_type)
{
    expect_error(ARCH, "  rows = 4;", "  rows = \"four\";", 0, "array.rows: wrong type",
                 "expected an integer 1..64, in PEs, found the string \"four\"");
    expect_error(ARCH, "  lanes = 8;", "  lanes = 8.5;", 0, "pe.lanes: wrong type",
                 "found the number 8.5");
    expect_error(ARCH, "  link_bits = 128;", "  link_bits = { x = 1; };", 0,
                 "noc.link_bits: wrong type", "found a group");
    expect_error(WL, "dtype = \"fp16\";", "dtype = 16;", 0, "dtype: wrong type",
                 "found the integer 16");
}
END_TEST

START_TEST(test_out_of_range)
{
    expect_error(ARCH, "  rows = 4;", "  rows = 0;", 0, "array.rows = 0 is out of range",
                 "allowed 1..64");
    expect_error(ARCH, "  cols = 4;", "  cols = 0;", 0, "array.cols = 0 is out of range", NULL);
    expect_error(ARCH, "bandwidth_gbs = 51.2;", "bandwidth_gbs = -25.6;", 0,
                 "dram.bandwidth_gbs = -25.6 is out of range", "allowed > 0");
    expect_error(WL, "n = 64;", "n = 1000;", 0, "n = 1000 must be a power of two", "512 or 1024");
    expect_error(ARCH, "  lanes = 8;", "  lanes = 12;", 0, "pe.lanes = 12 must be a power of two",
                 NULL);
    /* A function unit wider than the SIMD datapath. */
    expect_error(ARCH, "exp = { latency = 8; lanes_per_cycle = 2; };",
                 "exp = { latency = 8; lanes_per_cycle = 16; };", 0,
                 "pe.fu.exp.lanes_per_cycle = 16 exceeds pe.lanes = 8", NULL);
    expect_error(WL, "init = \"random\";", "init = \"randon\";", 0,
                 "init = \"randon\" is not allowed", "did you mean \"random\"?");
}
END_TEST

START_TEST(test_sizes_overflow)
{
    /* 1024 banks x 64 MiB = 64 GiB of SPM overflows the 32-bit address space; the
     * message points at bank_kb, the line after banks. */
    char src[512];
    char *text = tu_read(tu_src(src, sizeof src, ARCH), NULL);
    int banks_line = tu_line_of(text, "  banks = 16;");
    free(text);
    expect_error(ARCH, "  banks = 16;           # ASSUMPTION\n  bank_kb = 16;",
                 "  banks = 1024;\n  bank_kb = 65536;", banks_line + 1,
                 "spm.banks x spm.bank_kb = 67108864 KiB overflows the 4 GiB address space", NULL);
    /* rows x n = 2^18 x 2^24 = 2^42 elements, beyond the 2^40 allowed; named at rows. */
    text = tu_read(tu_src(src, sizeof src, WL), NULL);
    int n_line = tu_line_of(text, "n = 64;");
    free(text);
    expect_error(WL,
                 "n = 64;              # butterfly size (elements per vector, a power of two)\n"
                 "rows = 16;",
                 "n = 16777216;\nrows = 262144;", n_line + 1,
                 "rows x n = 262144 x 16777216 elements exceeds the maximum 2^40", NULL);
    /* libconfig alone would wrap 2^32 + 1 to 1; bflysim keeps the value and rejects it. */
    expect_error(WL, "rows = 16;", "rows = 4294967297;", 0, "rows = 4294967297 is out of range",
                 NULL);
    expect_error(WL, "rows = 16;", "rows = 99999999999999999999;", 0,
                 "integer 99999999999999999999 does not fit in 64 bits", NULL);
}
END_TEST

START_TEST(test_missing_required_key)
{
    /* The message points at the group that lacks the key. */
    char src[512];
    char *text = tu_read(tu_src(src, sizeof src, ARCH), NULL);
    int pe_line = tu_line_of(text, "pe = {");
    free(text);
    expect_error(ARCH, "  lanes = 8; ", "  ", pe_line, "missing required key 'pe.lanes'",
                 "an integer 1..256, a power of two");
    expect_error(WL, "n = 64;", "", 1, "missing required key 'n'", NULL);
}
END_TEST

START_TEST(test_unreadable_file)
{
    char arch[512], missing[512], dir[512];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(missing, sizeof missing, "workloads/no-such-file.cfg");
    tu_src(dir, sizeof dir, "workloads");
    tu_result r;
    /* A file that cannot be read has no line: the message names the file and why. */
    tu_run(&r, arch, missing, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "no-such-file.cfg: cannot read: No such file or directory"),
                  "got: %s", r.err);
    tu_free(&r);
    tu_run(&r, arch, dir, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "workloads: cannot read: not a regular file"), "got: %s", r.err);
    tu_free(&r);
}
END_TEST

START_TEST(test_malformed_file)
{
    expect_error(ARCH, "  rows = 4;", "  rows = ;", 0, "malformed file: syntax error", NULL);
    expect_error(WL, "n = 64;", "n = 64; n = 32;", 0, "malformed file", "duplicate");
    expect_error(ARCH, "array = {", "array = {{", 0, "malformed file", NULL);
}
END_TEST

START_TEST(test_set_overrides)
{
    char arch[512], wl[512];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(wl, sizeof wl, WL);
    tu_result r;
    /* Valid overrides change the run. */
    tu_run(&r, "--set", "arch.array.rows=2", "--set=workload.rows=4", "-j", "/dev/null", arch, wl,
           NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "2x4 PEs"), "got: %s", r.out);
    ck_assert_msg(strstr(r.out, "rows=4 "), "got: %s", r.out);
    tu_free(&r);
    /* Unknown paths, bad values and malformed arguments are usage errors naming them. */
    static const char *const cases[][2] = {
        {"arch.array.rowz=4", "--set arch.array.rowz=4: unknown key 'arch.array.rowz'; did you "
                              "mean 'arch.array.rows'?"},
        {"arch.array.rows=0", "--set arch.array.rows=0: array.rows = 0 is out of range"},
        {"arch.array.rows=four", "--set arch.array.rows=four: cannot parse the value 'four'"},
        {"arch.array=4", "--set arch.array=4: 'arch.array' is a group"},
        {"workload.dtype=fp8", "--set workload.dtype=fp8: dtype = \"fp8\" is not allowed"},
        {"model.rows=4", "--set model.rows=4: the key path must start with 'arch.', "
                         "'workload.' or 'gpu.'"},
        {"workload.rows", "--set workload.rows: expected FILE.KEY=VALUE"},
        {"workload.n=1;x=2", "--set workload.n=1;x=2: cannot parse the value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run(&r, "--set", cases[i][0], arch, wl, NULL);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, cases[i][1]), "case %zu: got: %s", i, r.err);
        tu_free(&r);
    }
}
END_TEST

START_TEST(test_dtype_not_supported)
{
    char arch[512], wl[512], prefix[600];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(wl, sizeof wl, WL);
    char *text = tu_read(wl, NULL);
    int line = tu_line_of(text, "dtype = ");
    free(text);
    tu_result r;
    tu_run(&r, "--set", "arch.pe.dtypes=[\"fp16\"]", "--set", "workload.dtype=fp32", arch, wl,
           NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "dtype = \"fp32\" is not supported by arch mld-4x4"), "got: %s",
                  r.err);
    tu_free(&r);
    /* Without the override the message names the workload file's line. */
    char tmp[512];
    char *orig = tu_read(wl, NULL);
    char *edited = tu_replace(orig, "dtype = \"fp16\"", "dtype = \"fp32\"");
    free(orig);
    tu_write(tu_tmp(tmp, sizeof tmp, "fp32.cfg"), edited);
    tu_run(&r, "--set", "arch.pe.dtypes=[\"fp16\"]", arch, tmp, NULL);
    snprintf(prefix, sizeof prefix, "bflysim: %s:%d: ", tmp, line);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "got: %s", r.err);
    tu_free(&r);
    remove(tmp);
    free(edited);
}
END_TEST

/* Seeded random edits of a preset (byte flips, deletions, truncation) must give a valid
 * description or exit status 2, never a crash: each iteration loads the result. */
START_TEST(test_mutated_files_never_crash)
{
    char src[512], tmp[512];
    size_t len;
    char *text = tu_read(tu_src(src, sizeof src, ARCH), &len);
    tu_tmp(tmp, sizeof tmp, "mutant.cfg");
    util_rng rng;
    util_rng_seed(&rng, 2024);
    static const char alphabet[] = "{}[]();=\"#/*,.-L0123456789xe \n";
    int ok = 0, rejected = 0;
    for (int it = 0; it < 400; it++) {
        char *m = malloc(len + 1);
        memcpy(m, text, len + 1);
        size_t n = len;
        int edits = 1 + (int)(util_rng_next(&rng) % 4);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = util_rng_next(&rng) % n;
            switch (util_rng_next(&rng) % 3) {
            case 0:
                m[at] = alphabet[util_rng_next(&rng) % (sizeof alphabet - 1)];
                break;
            case 1:
                memmove(m + at, m + at + 1, n - at);
                n--;
                break;
            default:
                m[at] = '\0';
                n = at;
                break;
            }
        }
        m[n] = '\0';
        tu_write(tmp, m);
        arch_desc a;
        char err[1024] = "";
        int rc = cfg_load_arch(tmp, NULL, 0, &a, err, sizeof err);
        ck_assert_msg(rc == UTIL_OK || rc == UTIL_ECONFIG, "iteration %d: status %d", it, rc);
        if (rc) {
            ck_assert_msg(strncmp(err, tmp, strlen(tmp)) == 0, "iteration %d: %s", it, err);
            rejected++;
        } else {
            ok++;
        }
        free(m);
    }
    /* Most mutants break the file; a few (in comments) leave it valid. */
    ck_assert_int_eq(ok + rejected, 400);
    ck_assert_int_gt(rejected, 100);
    remove(tmp);
    free(text);
}
END_TEST

/* Inputs of tests/data/fuzz/ that crashed, hung or exited the loader (docs/FUZZING.md):
 * each is now a config error naming FILE:LINE, from the loader and from bflysim. */
START_TEST(test_fuzz_regressions)
{
    static const struct {
        const char *file, *kind;
        const char *at; /* the file the message names (NULL: file) and its line */
        int line;
        const char *phrase;
    } cases[] = {
        {"tests/data/fuzz/include-dir.cfg", "workload", NULL, 4,
         "@include \"\": not a regular file"},
        {"tests/data/fuzz/include-nested.cfg", "workload", "tests/data/fuzz/include-dir.cfg", 4,
         "@include \"\": not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], at[512], other[512], prefix[600], err[1024] = "";
        bool arch = strcmp(cases[i].kind, "arch") == 0;
        tu_src(path, sizeof path, cases[i].file);
        tu_src(at, sizeof at, cases[i].at ? cases[i].at : cases[i].file);
        tu_src(other, sizeof other, arch ? WL : ARCH); /* the file it is run with */
        snprintf(prefix, sizeof prefix, "%s:%d: ", at, cases[i].line);
        arch_desc a;
        wl_desc w;
        int rc = arch ? cfg_load_arch(path, NULL, 0, &a, err, sizeof err)
                      : cfg_load_workload(path, NULL, 0, &w, err, sizeof err);
        ck_assert_msg(rc == UTIL_ECONFIG, "%s: status %d", cases[i].file, rc);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, cases[i].phrase),
                      "%s: expected '%s' ... '%s', got: %s", cases[i].file, prefix, cases[i].phrase,
                      err);
        tu_result r;
        tu_run(&r, "-q", arch ? path : other, arch ? other : path, NULL);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, prefix) && strstr(r.err, cases[i].phrase), "%s: got: %s",
                      cases[i].file, r.err);
        tu_free(&r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_wrong_type);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_sizes_overflow);
    tcase_add_test(tc, test_missing_required_key);
    tcase_add_test(tc, test_unreadable_file);
    tcase_add_test(tc, test_malformed_file);
    tcase_add_test(tc, test_set_overrides);
    tcase_add_test(tc, test_dtype_not_supported);
    tcase_add_test(tc, test_mutated_files_never_crash);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
